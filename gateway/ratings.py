"""Recording ratings of staff replies: from the rating page (GET shows, POST records) and from
a customer who answers a satisfaction request with a single digit.

A GET never records anything: mail security scanners open every link in a mail. A token is
checked on every request; it names the reply and the contact, so it cannot rate anything else.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from gateway import rating_page
from gateway.core import threads
from gateway.core.model import AddToTicket, ParsedMail, Sender
from gateway.core.quotes import new_text
from gateway.notices import LANGUAGES, Company
from gateway.rating_links import SCALE, RatingLinks
from gateway.store import ratings as store
from gateway.store import repo, staffing, timed
from gateway.store.db import Database

STATUS = {"malformed": 400, "forged": 403, "expired": 410, "missing": 404, "score": 400}
MAX_COMMENT = 2000
_DIGIT = re.compile(r"^\s*([1-5])\s*(?:/\s*5)?\s*[.!]?\s*$")


@dataclass(frozen=True)
class Page:
    status: int
    html: str


@dataclass(frozen=True)
class _Found:
    reply: object
    contact: object
    language: str


class RatingDesk:
    def __init__(
        self, db: Database, links: RatingLinks, clock: Callable[[], datetime], company: Company
    ):
        self.db, self.links, self.clock, self.company = db, links, clock, company

    def show(self, token: str, query: dict[str, str]) -> Page:
        """The form, with the linked score chosen; records nothing."""
        with self.db.write() as session:  # write: the signing key may be made on first use
            found = self._find(session, token)
            if isinstance(found, Page):
                return found
            previous = store.rating_of(session, found.reply.id, found.contact.id)
            chosen = _score(query.get("score")) or (previous.score if previous else None)
            facts = self._facts(session, found.reply)
        return Page(200, rating_page.form(found.language, facts, chosen,
                                          previous.score if previous else None))  # fmt: skip

    def submit(self, token: str, form: dict[str, str], remote: str = "") -> Page:
        """Records the score; a rating needs no address, so `remote` is not kept."""
        now = self.clock()
        with self.db.write() as session:
            found = self._find(session, token)
            if isinstance(found, Page):
                return found
            score = _score(form.get("score"))
            if score is None:
                facts = self._facts(session, found.reply)
                text = rating_page.texts(found.language)["score"]
                html = rating_page.form(found.language, facts, None, None, error=text)
                return Page(STATUS["score"], html)
            comment = form.get("comment", "").strip()[:MAX_COMMENT]
            record(session, found.reply, found.contact, score, comment, "web", now)
        return Page(200, rating_page.thanks(found.language, score))

    def _find(self, session, token: str) -> _Found | Page:
        checked = self.links.check(session, token, self.clock())
        claim = checked.claim
        contact = repo.contact_by_id(session, claim.contact_id) if claim else None
        language = self._language(contact)
        if checked.problem:
            return Page(STATUS[checked.problem], rating_page.error(language, checked.problem))
        reply = store.staff_reply(session, claim.reply_id)
        if reply is None or contact is None:
            return Page(STATUS["missing"], rating_page.error(language, "missing"))
        return _Found(reply, contact, language)

    def _language(self, contact) -> str:
        if contact is not None and contact.language in LANGUAGES:
            return contact.language
        return self.company.language

    def _facts(self, session, reply) -> rating_page.ReplyFacts:
        ticket = repo.get_ticket(session, reply.ticket_id)
        author = staffing.staff_by_id(session, reply.author_staff_id)
        return rating_page.ReplyFacts(
            staff=author.name if author else self.company.name,
            date=reply.created_at.strftime("%Y-%m-%d"),
            tag=threads.subject_tag(self.company.tag, ticket.id),
            subject=ticket.subject,
        )

    def error_page(self, problem: str) -> str:
        return rating_page.error(self.company.language, problem)


def record(session, reply, contact, score: int, comment: str, source: str, now) -> None:
    store.record(session, reply, contact.id, score, comment, source, now)
    repo.add_event(
        session, now, "reply-rated", ticket_id=reply.ticket_id, actor=contact.email,
        detail={"reply_id": reply.id, "score": score, "source": source},
    )  # fmt: skip


def record_by_mail(session, mail: ParsedMail, decision, sender: Sender, now: datetime) -> bool:
    """A reply to a satisfaction request that is just a digit from 1 to 5 is a rating, not a
    follow-up: it is recorded (no message, no reopening) and True is returned."""
    if not isinstance(decision, AddToTicket) or decision.automatic or sender.contact is None:
        return False
    match = _DIGIT.match(new_text(mail.text, mail.html))
    ticket_id = decision.ticket.id
    if match is None or not store.answers_request(session, mail, ticket_id):
        return False
    asked = timed.claimed(session, f"satisfaction:ticket:{ticket_id}")
    detail = json.loads(asked.detail) if asked else {}
    if detail.get("contact_id") != sender.contact.id:
        return False
    reply = store.staff_reply(session, detail.get("reply_id", 0))
    contact = repo.contact_by_id(session, sender.contact.id)
    if reply is None or contact is None:
        return False
    record(session, reply, contact, int(match.group(1)), "", "mail", now)
    return True


def _score(value: str | None) -> int | None:
    try:
        score = int((value or "").strip())
    except ValueError:
        return None
    return score if score in SCALE else None
