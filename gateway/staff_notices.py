"""Mail around the staff workflow: notifications to staff, relayed replies to customers,
receipts and errors for commands, spoof alerts and merge notices.

Mail to staff comes From and Reply-To the support address, so a reply-all can never reach
the customer; the customer's address appears only in the body. Relayed replies carry the staff
member's name but never their address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway import compose, inline_relay, outbox, rating_links
from gateway.core import threads
from gateway.notices import Company
from gateway.store import repo, staffing, timed
from gateway.store.tables import Contact, Message, Staff, Ticket

HISTORY_ENTRIES = 6
EARLIER_TICKETS = 5  # the account's tickets before this one, in a new ticket's notification
LISTED_WITH_EARLIER = ("staff-new-ticket", "staff-show", "staff-transfer", "complaint-escalation")
# Notifications of what only staff may see: each says that a reply to it stays internal, and
# the staff desk keeps it so by this list, whatever the reply's subject says.
INTERNAL_KINDS = (
    "staff-note", "staff-show", "staff-bounce", "staff-undelivered", "approval-answer-refused",
    "staff-rating-review",
)  # fmt: skip


@dataclass(frozen=True)
class Sent:
    kind: str
    to: str
    message_id: str


class StaffNotices:
    def __init__(
        self,
        renderer: outbox.Renderer,
        company: Company,
        links: rating_links.RatingLinks | None = None,
    ):
        self.renderer, self.company, self.links = renderer, company, links

    def _tag(self, ticket: Ticket) -> str:
        return threads.subject_tag(self.company.tag, ticket.id)

    def _queue(self, session, draft, kind, ticket_id, now) -> str:
        return outbox.enqueue(
            session,
            draft,
            kind=kind,
            ticket_id=ticket_id,
            envelope_from=self.company.bounce_address,
            now=now,
            message_domain=self.company.domain,
        )

    def _to_staff(self, session, member: Staff, name: str, context: dict, kind, ticket_id, now,
                  attachments: tuple[compose.OutgoingAttachment, ...] = (),
                  html: str = ""):  # fmt: skip
        rendered = self.renderer.render(name, self.company.language, context)
        draft = compose.Draft(
            from_name=self.company.name,
            from_address=self.company.support_address,
            to=(compose.Recipient(member.email, member.name),),
            subject=rendered.subject,
            text=rendered.text,
            html=html or rendered.html,
            reply_to=self.company.support_address,
            auto_submitted="auto-generated",
            language=self.company.language,
            loop_domain=self.company.domain,
            attachments=attachments,
        )
        return Sent(kind, member.email, self._queue(session, draft, kind, ticket_id, now))

    def ticket_context(self, session, ticket: Ticket) -> dict:
        requester = repo.contact_by_id(session, ticket.requester_id)
        due = timed.awaited_due(ticket)
        assignee = staffing.staff_by_id(session, ticket.assignee_id)
        department = staffing.department(session, ticket.department_id)
        return {
            "tag": self._tag(ticket),
            "subject": ticket.subject,
            "requester": _person(requester.name, requester.email) if requester else "erased",
            "ccs": [c.email for c in staffing.ccs(session, ticket.id)],
            "assignee": (assignee.name + (" (away)" if assignee.away_since else ""))
            if assignee
            else "",
            "department": department.name if department else "",
            "status": ticket.status,
            "priority": ticket.priority,
            "category": ticket.category,
            "sla_due": due.strftime("%Y-%m-%d %H:%M UTC") if due else "",
            "sla_first": ticket.first_response_at is None,
        }

    def history(self, session, ticket: Ticket, limit: int | None, skip_id=None) -> list[dict]:
        entries = []
        for message in reversed(repo.ticket_messages(session, ticket.id)):
            if message.id == skip_id:
                continue
            entries.append(
                {
                    "label": _label(message),
                    "at": message.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                    "author": message.author_email,
                    "verdict": message.auth_verdict,
                    "text": message.new_text or message.body_text,
                }
            )
        return entries if limit is None else entries[:limit]

    def earlier(self, session, ticket: Ticket) -> list[dict]:
        """What the customer's account asked before: staff answering a new ticket see at once
        that it is the third about the same site this month."""
        return [
            {
                "tag": self._tag(row),
                "subject": row.subject,
                "status": row.status,
                "opened": row.created_at.strftime("%Y-%m-%d"),
            }
            for row in repo.earlier_tickets(session, ticket, EARLIER_TICKETS)
        ]

    def notify_staff(
        self,
        session,
        ticket: Ticket,
        members: list[Staff],
        *,
        headline: str,
        text: str,
        kind: str,
        now: datetime,
        skip_message_id: int | None = None,
        full_history: bool = False,
        attachments: tuple[compose.OutgoingAttachment, ...] = (),
        html: str = "",
    ) -> list[Sent]:
        """One mail per staff member; `attachments` are the new message's own files and
        `html` its HTML body, shown sanitised beside the text with its inline images."""
        if not members:  # nobody to tell: the context would cost queries for nothing
            return []
        context = self.ticket_context(session, ticket) | {
            "headline": headline,
            "text": text,
            "internal": kind in INTERNAL_KINDS,
            "history": self.history(
                session, ticket, None if full_history else HISTORY_ENTRIES, skip_message_id
            ),
            "earlier": self.earlier(session, ticket) if kind in LISTED_WITH_EARLIER else [],
        }
        page, files = self._notification_html(context, html, attachments)
        name = "staff_notification"
        return [
            self._to_staff(session, member, name, context, kind, ticket.id, now, files, page)
            for member in members
        ]

    def _notification_html(self, context: dict, html: str, attachments) -> tuple[str, tuple]:
        """The HTML alternative: the message's new part (its whole HTML when that cannot be
        told apart; staff may see all of it) with its images, then the ticket as in the text."""
        shown = inline_relay.shown(html, attachments, context["text"]) or inline_relay.shown(
            html, attachments
        )
        if shown is None:
            return "", inline_relay.plain_files(attachments)
        page = self.renderer.fragment(
            "staff_notification_html", self.company.language, context | {"message": shown.html}
        )
        return page, shown.files

    def relay_reply(
        self,
        session,
        ticket: Ticket,
        staff: Staff,
        text: str,
        html: str,
        attachments: tuple[compose.OutgoingAttachment, ...],
        now: datetime,
        reply_id: int | None = None,
    ) -> list[Sent]:
        """The staff reply, to the requester and the ticket's CCs, threaded in their client.

        With rating links (the stored reply's id given), each recipient gets a copy of their
        own, in their language, ending with links only they can use to rate this reply.
        """
        requester = repo.contact_by_id(session, ticket.requester_id)
        recipients = [requester] + [
            c for c in staffing.ccs(session, ticket.id) if c.id != requester.id
        ]
        recipients = [c for c in recipients if c.erased_at is None]  # no address to write to
        if not recipients:
            return []
        if self.links is None or reply_id is None:
            lang = self._language(requester)
            return self._relay(session, ticket, staff, text, html, attachments, now, recipients,
                               lang, [])  # fmt: skip
        sent: list[Sent] = []
        for contact in recipients:
            links = rating_links.context(self.links.links(session, reply_id, contact.id, now))
            sent += self._relay(session, ticket, staff, text, html, attachments, now, [contact],
                                self._language(contact), links)  # fmt: skip
        return sent

    def _language(self, contact: Contact) -> str:
        return contact.language if contact.language in ("en", "fr") else self.company.language

    def _relay(self, session, ticket, staff, text, html, attachments, now, recipients, lang,
               links: list[dict]) -> list[Sent]:  # fmt: skip
        rendered = self.renderer.render(
            "staff_reply",
            lang,
            {
                "tag": self._tag(ticket),
                "subject": ticket.subject,
                "text": text,
                "staff_name": staff.name,
                "company": self.company.name,
                "rating_links": links,
            },
        )
        if links and html:
            block = self.renderer.fragment("rating_links", lang, {"rating_links": links})
            html = _before_body_end(html, block)
        last = staffing.last_customer_message(session, ticket.id)
        draft = compose.Draft(
            from_name=f"{staff.name} - {self.company.name}",
            from_address=self.company.support_address,
            to=tuple(compose.Recipient(c.email, c.name) for c in recipients),
            subject=rendered.subject,
            text=rendered.text,
            html=html,
            reply_to=threads.token_address(self.company.support_address, ticket.reply_token),
            in_reply_to=last.header_message_id if last else "",
            references=tuple(staffing.public_message_ids(session, ticket.id)[-10:]),
            language=lang,
            loop_domain=self.company.domain,
            attachments=attachments,
        )
        message_id = self._queue(session, draft, "reply", ticket.id, now)
        # a deactivated contact's copy is withheld when queued (see outbox.deactivated)
        return [Sent("reply", c.email, message_id) for c in recipients if c.active]

    def receipt(self, session, ticket, staff: Staff, context: dict, now: datetime) -> Sent:
        base = {"tag": self._tag(ticket) if ticket else "", "subject": context.pop("subject", "")}
        return self._to_staff(
            session, staff, "staff_receipt", base | context, "staff-receipt",
            ticket.id if ticket else None, now,
        )  # fmt: skip

    def alert(self, session, staff: Staff, verdict: str, held_id: int, now: datetime) -> Sent:
        context = {
            "address": staff.email,
            "support_address": self.company.support_address,
            "verdict": verdict,
            "held_id": held_id,
        }
        return self._to_staff(session, staff, "staff_alert", context, "staff-alert", None, now)

    def held_digest(self, session, member: Staff, context: dict, now: datetime) -> Sent:
        context = context | {"support_address": self.company.support_address}
        return self._to_staff(session, member, "held_digest", context, "held-digest", None, now)

    def staff_history(self, session, member: Staff, context: dict, now: datetime) -> Sent:
        return self._to_staff(session, member, "staff_history", context, "staff-history", None,
                              now)  # fmt: skip

    def open_digest(self, session, member: Staff, context: dict, now: datetime) -> Sent:
        return self._to_staff(session, member, "open_digest", context, "open-digest", None, now)

    def merge_notice(self, session, source: Ticket, target: Ticket, contact: Contact, now) -> Sent:
        lang = contact.language if contact.language in ("en", "fr") else self.company.language
        rendered = self.renderer.render(
            "merge_notice",
            lang,
            {
                "source_tag": self._tag(source),
                "target_tag": self._tag(target),
                "subject": target.subject,
                "company": self.company.name,
            },
        )
        draft = compose.Draft(
            from_name=self.company.name,
            from_address=self.company.support_address,
            to=(compose.Recipient(contact.email, contact.name),),
            subject=rendered.subject,
            text=rendered.text,
            reply_to=threads.token_address(self.company.support_address, target.reply_token),
            auto_submitted="auto-generated",
            language=lang,
            loop_domain=self.company.domain,
        )
        return Sent("merge-notice", contact.email, self._queue(session, draft, "merge-notice",
                                                               target.id, now))  # fmt: skip


def _before_body_end(html: str, block: str) -> str:
    at = html.lower().rfind("</body>")
    return html[:at] + block + "\n" + html[at:] if at >= 0 else html + block


def _person(name: str, email: str) -> str:
    return f"{name} <{email}>" if name else email


def _label(message: Message) -> str:
    if message.visibility == "internal":
        return "internal note"
    if message.author_staff_id is not None:
        return "staff reply"
    if "automatic" in message.flags:
        return "automatic reply"
    if staffing.logged_by_staff(message):
        return "customer's request, logged by staff"
    return "customer"
