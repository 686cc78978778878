"""Mail the timed actions write to customers: complaint confirmations, satisfaction requests
and pending reminders, in the contact's language, threaded in the ticket.

Each function renders, composes and queues one mail inside the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from gateway import outbox, rating_links
from gateway.core import threads
from gateway.notices import LANGUAGES, Company
from gateway.store import staffing
from gateway.store.tables import Contact, Message, Staff, Ticket


class TimedMail:
    def __init__(
        self,
        renderer: outbox.Renderer,
        company: Company,
        links: rating_links.RatingLinks | None = None,
    ):
        self.renderer, self.company, self.links = renderer, company, links

    def _language(self, contact: Contact) -> str:
        return contact.language if contact.language in LANGUAGES else self.company.language

    def _base(self, ticket: Ticket, contact: Contact) -> dict:
        return {
            "company": self.company.name,
            "support_address": self.company.support_address,
            "contact_name": contact.name,
            "ticket_number": ticket.id,
            "tag": threads.subject_tag(self.company.tag, ticket.id),
            "subject": ticket.subject,
        }

    def _send(self, session, ticket, contact, name: str, context: dict, kind: str, now) -> str:
        lang = self._language(contact)
        rendered = self.renderer.render(name, lang, context)
        last = staffing.last_customer_message(session, ticket.id)
        draft = self.company.draft_to(
            contact.email,
            contact.name,
            rendered,
            lang,
            reply_to=threads.token_address(self.company.support_address, ticket.reply_token),
            in_reply_to=last.header_message_id if last else "",
            auto_submitted="auto-generated",
        )
        return outbox.enqueue(
            session, draft, kind=kind, ticket_id=ticket.id,
            envelope_from=self.company.bounce_address, now=now,
            message_domain=self.company.domain,
        )  # fmt: skip

    def complaint_confirmation(self, session, ticket, contact, manager: Staff | None, now) -> str:
        context = self._base(ticket, contact) | {"manager": manager.name if manager else ""}
        return self._send(
            session, ticket, contact, "complaint_confirmation", context,
            "complaint-confirmation", now,
        )  # fmt: skip

    def satisfaction_request(
        self, session, ticket: Ticket, contact: Contact, reply: Message, author: Staff | None,
        now: datetime,
    ) -> str:  # fmt: skip
        links = self.links.links(session, reply.id, contact.id, now) if self.links else ()
        context = self._base(ticket, contact) | {
            "staff_name": author.name if author else self.company.name,
            "rating_links": rating_links.context(links),
        }
        return self._send(
            session, ticket, contact, "satisfaction_request", context,
            "satisfaction-request", now,
        )  # fmt: skip

    def pending_reminder(self, session, ticket, contact, resolve_on: datetime, now) -> str:
        context = self._base(ticket, contact) | {"resolve_on": resolve_on.date().isoformat()}
        return self._send(
            session, ticket, contact, "pending_reminder", context, "pending-reminder", now
        )
