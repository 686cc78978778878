"""Everything that leaves, as it is queued: render a template, queue the mail as bytes.

Rendering and queueing happen inside the caller's transaction, so a mail exists exactly when
the change that caused it does. `delivery` sends it later, outside any transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import jinja2

from gateway import compose
from gateway.core.quotes import REPLY_MARKER
from gateway.store import mailflow, outbox_rows, repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


_CANNED_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class Renderer:
    """jinja2 templates `mail/<name>.<lang>.txt` (first line `Subject: ...`) and `.html`.

    Templates are read once per process (a changed template is used after a restart): looking
    at the files again for each mail cost more than rendering a confirmation's text."""

    def __init__(self, templates_dir: Path, fallback_language: str = "en"):
        self.fallback = fallback_language
        self._text = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=False,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self._html = jinja2.Environment(
            loader=jinja2.FileSystemLoader(templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            auto_reload=False,
        )
        self._found: dict[str, bool] = {}
        for environment in (self._text, self._html):  # mail people answer starts with it
            environment.globals["reply_marker"] = REPLY_MARKER

    def render(self, name: str, language: str, context: dict) -> Rendered:
        lang = language if self._exists(f"mail/{name}.{language}.txt") else self.fallback
        text = self._text.get_template(f"mail/{name}.{lang}.txt").render(context)
        first, _, body = text.partition("\n")
        if not first.startswith("Subject:"):
            raise ValueError(f"template mail/{name}.{lang}.txt must start with 'Subject:'")
        html = ""
        if self._exists(f"mail/{name}.{lang}.html"):
            html = self._html.get_template(f"mail/{name}.{lang}.html").render(context)
        return Rendered(subject=first[len("Subject:") :].strip(), text=body.lstrip("\n"), html=html)

    def canned(self, name: str, language: str, context: dict) -> str:
        """A saved reply `canned/<name>.<lang>.txt` (else the fallback language's), written for
        `context`; ValueError, in words for its author, when there is none or it fails."""
        lang = language if self._exists(f"canned/{name}.{language}.txt") else self.fallback
        if not _CANNED_NAME.match(name) or not self._exists(f"canned/{name}.{lang}.txt"):
            names = ", ".join(self.canned_names()) or "none (templates/canned/ is empty)"
            raise ValueError(f"no saved reply named {name!r}; saved replies: {names}")
        try:
            return self._text.get_template(f"canned/{name}.{lang}.txt").render(context).strip()
        except jinja2.TemplateError as error:
            raise ValueError(f"the saved reply {name!r} cannot be written: {error}") from None

    def canned_names(self) -> list[str]:
        names = {path.split("/")[-1].split(".")[0] for path in self._text.list_templates()
                 if path.startswith("canned/") and path.endswith(".txt")}  # fmt: skip
        return sorted(n for n in names if _CANNED_NAME.match(n))

    def fragment(self, name: str, language: str, context: dict) -> str:
        """An HTML piece `mail/<name>.<lang>.html` to place inside another mail's HTML part."""
        lang = language if self._exists(f"mail/{name}.{language}.html") else self.fallback
        return self._html.get_template(f"mail/{name}.{lang}.html").render(context)

    def phrase(self, name: str, language: str, context: dict) -> str:
        """A piece of text `mail/<name>.<lang>.txt` (no subject line) for a page or sentence."""
        lang = language if self._exists(f"mail/{name}.{language}.txt") else self.fallback
        return self._text.get_template(f"mail/{name}.{lang}.txt").render(context).strip()

    def _exists(self, path: str) -> bool:
        found = self._found.get(path)
        if found is None:
            try:
                self._text.loader.get_source(self._text, path)
                found = True
            except jinja2.TemplateNotFound:
                found = False
            self._found[path] = found
        return found


# Mail that carries nothing of a ticket, which a former contact may still get: the fixed notice
# to unknown senders, and what they asked of their own data (export, erasure).
TO_ANYONE = ("stranger-notice", "privacy-")


def deactivated(session, recipients) -> list[str]:
    """The recipients who are deactivated contacts: a person who left a customer gets none of
    its tickets' mail, whatever queues it (replies, copies, timed mail, decisions)."""
    gone = []
    for recipient in recipients:
        if repo.find_staff(session, recipient.email) is not None:
            continue
        contact = repo.find_contact(session, recipient.email)
        if contact is not None and not contact.active:
            gone.append(recipient.email)
    return gone


def enqueue(
    session,
    draft: compose.Draft,
    *,
    kind: str,
    ticket_id: int | None,
    envelope_from: str,
    now: datetime,
    message_domain: str,
    dedupe_key: str | None = None,
) -> str:
    """Render `draft` to bytes and queue it; returns its Message-ID ("" when suppressed).

    Automatic mail to an address whose mail bounced for good is not queued, nor any mail to
    a deactivated contact (an event says so). Delivery sends it from a VERP address naming its
    row, so a bounce finds it.
    """
    if not kind.startswith(TO_ANYONE) and (gone := deactivated(session, draft.to)):
        repo.add_event(session, now, "mail-withheld", ticket_id=ticket_id,
                       detail={"kind": kind, "deactivated": gone})  # fmt: skip
        draft = replace(draft, to=tuple(r for r in draft.to if r.email not in gone))
        if not draft.to:
            return ""
    recipients = [r.email for r in draft.to]
    if draft.auto_submitted and (stopped := mailflow.bouncing(session, recipients)):
        repo.add_event(session, now, "auto-mail-suppressed", ticket_id=ticket_id,
                       detail={"kind": kind, "bouncing": sorted(stopped)})  # fmt: skip
        return ""
    message_id = compose.new_message_id(message_domain)
    raw = compose.build(compose.without_cards(draft), message_id, now)
    outbox_rows.add(
        session,
        created_at=now,
        kind=kind,
        ticket_id=ticket_id,
        automatic=bool(draft.auto_submitted),
        mail_from=envelope_from,
        rcpt_to=[r.email for r in draft.to],
        message_id=message_id,
        raw=raw,
        next_attempt_at=now,
        dedupe_key=dedupe_key,
    )
    return message_id
