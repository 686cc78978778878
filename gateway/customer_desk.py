"""Customer mail, once decided: open a ticket, add to one, hold it, or refuse it over a limit.

Each method applies one `Decision` inside the caller's transaction: the message and its
attachments, the events, the confirmation or notice to the customer, and the notification to
the staff involved (the customer's new text on top, then the history).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from gateway import compose, customer_cc, inline_relay
from gateway.core import limits, routing, senders, sla
from gateway.core.model import AddToTicket, Envelope, Hold, OpenTicket
from gateway.core.quotes import message_text
from gateway.notices import Notices
from gateway.staff_commands import involved_staff
from gateway.staff_notices import StaffNotices
from gateway.store import repeats, repo, spool, staffing
from gateway.urgency import Urgency

log = logging.getLogger(__name__)
_MISSING: set[str] = set()  # departments named by routing that do not exist, logged once
# The hourly cap on notices to strangers is noted once in this long.
NOTICE_CAP_WINDOW = timedelta(hours=1)


class CustomerDesk:
    def __init__(self, notices: Notices, staff_notices: StaffNotices, settings):
        self.notices, self.staff_notices, self.settings = notices, staff_notices, settings

    def _department(self, session, row, mail) -> tuple[int | None, str]:
        """Where a new ticket starts: the department routed from the first configured address
        the mail was sent to (envelope, then To and Cc), else from the first words of
        `routing.keywords` its subject holds, else the default one."""
        sent_to = {a.lower() for a in json.loads(row.rcpt_tos)}
        sent_to.update(a.email.lower() for a in (*mail.to, *mail.cc))
        names = [name for address, name in self.settings.routes if address in sent_to]
        names = names or routing.by_keywords(mail.subject, self.settings.keyword_routes)
        for name in [*names, self.settings.default_department]:
            department = staffing.department_by_name(session, name) if name else None
            if department is not None:
                return department.id, department.name
            if name and name not in _MISSING:  # said once a process: the log is for a person
                _MISSING.add(name)
                log.warning("routing: no department named %r; the default is used", name)
        return None, ""

    def _due(self, decided, department: str, now):
        """The deadline `decide` set by the default department's hours, or by the ticket's own
        department's, where it keeps its own."""
        if department.lower() == self.settings.default_department.lower():
            return decided
        calendar = self.settings.calendars.for_department(department)
        return sla.first_response_due(now, self.settings.policy.first_response_minutes, calendar)

    def _store_message(self, session, row, mail, ticket_id, author_id, flags, now, verdict,
                       opens_ticket=False):  # fmt: skip
        message_id = mail.message_id
        if repo.message_id_taken(session, message_id):
            message_id = f"<{row.content_digest[:32]}.reused@{self.settings.domain}>"
        message = repo.add_message(
            session,
            ticket_id=ticket_id,
            inbound_id=row.id,
            direction="in",
            visibility="public",
            author_contact_id=author_id,
            author_email=mail.sender.email if mail.sender else "",
            message_id=message_id,
            header_message_id=mail.message_id,
            subject=mail.subject,
            body_text=mail.text,
            new_text=message_text(mail.text, mail.html, mail.subject, opens_ticket=opens_ticket),
            auth_verdict=str(verdict)[:200],
            flags=",".join(flags)[:500],
            created_at=now,
            text_digest=repeats.text_digest(session, mail.text) if author_id else "",
        )
        for item in mail.attachments:
            repo.add_attachment(session, message.id, item.filename, item.content_type, item.data,
                                content_id=item.content_id, inline=item.inline)  # fmt: skip
        return message

    def open(self, session, row, mail, decision: OpenTicket, flags, now, verdict) -> int:
        contact = decision.contact
        department_id, department = self._department(session, row, mail)
        due = self._due(decision.sla_due_at, department, now)
        ticket = repo.create_ticket(
            session,
            subject=decision.subject,
            category=decision.category,
            requester_id=contact.id,
            account_id=contact.account_id,
            language=contact.language,
            department_id=department_id,
            created_at=now,
            updated_at=now,
            sla_due_at=due,
        )
        message = self._store_message(session, row, mail, ticket.id, contact.id, flags, now,
                                      verdict, opens_ticket=True)  # fmt: skip
        customer_cc.add_copies(
            session, ticket, contact, mail, verdict, now, self.settings.own_domains
        )
        repo.add_event(
            session, now, "ticket-opened", ticket_id=ticket.id, actor=contact.email,
            detail={"category": decision.category, "inbound_id": row.id},
        )  # fmt: skip
        queued = self._tell_staff(session, ticket, message, "New ticket", "staff-new-ticket", now,
                                  mail)  # fmt: skip
        if not decision.confirm:
            repo.add_event(
                session, now, "confirmation-withheld", ticket_id=ticket.id, actor=contact.email,
                detail={"reason": decision.withheld_reason},
            )  # fmt: skip
            return queued
        # Unverified mail is not echoed back: a service writing in a customer's name (the
        # Ticket Trick) must not get its own content mailed back to that customer.
        echo = verdict.verified or not verdict.checked
        self.notices.confirmation(session, ticket, contact, mail, now, echo=echo)
        return queued + 1

    def add(self, session, row, mail, decision: AddToTicket, flags, now, verdict) -> int:
        ticket = repo.get_ticket(session, decision.ticket.id)
        if decision.automatic:
            flags = [*flags, "automatic"]
        sender = repo.find_contact(session, mail.sender.email)
        message = self._store_message(session, row, mail, ticket.id, sender.id, flags, now,
                                      verdict)  # fmt: skip
        if not decision.automatic:
            customer_cc.add_copies(
                session, ticket, sender, mail, verdict, now, self.settings.own_domains
            )
        kind = "auto-reply-recorded" if decision.automatic else "customer-replied"
        repo.add_event(
            session, now, kind, ticket_id=ticket.id, actor=mail.sender.email,
            detail={"via": decision.via, "inbound_id": row.id},
        )  # fmt: skip
        changes = {"updated_at": now}
        if decision.reopen or (ticket.status == "pending" and not decision.automatic):
            repo.add_event(
                session, now, "ticket-reopened", ticket_id=ticket.id, actor=mail.sender.email,
                detail={"from": ticket.status},
            )  # fmt: skip
            changes |= {"status": "open", "resolved_at": None}
        if awaits_answer(ticket, decision):
            department = staffing.department(session, ticket.department_id)
            usual = self._due(decision.reply_due_at, department.name if department else "", now)
            urgency = Urgency(self.settings.urgent_minutes, self.settings.calendars)
            changes["reply_due_at"] = urgency.sooner(session, ticket, usual, now)
        repo.update_ticket(session, ticket, **changes)
        if decision.automatic:
            return 0
        return self._tell_staff(
            session, ticket, message, "Customer follow-up", "staff-follow-up", now, mail
        )

    def _tell_staff(self, session, ticket, message, what: str, kind: str, now, mail) -> int:
        """Notify the staff involved: the customer's new text on top, then the history."""
        members = involved_staff(session, ticket)
        author = message.author_email
        sent = self.staff_notices.notify_staff(
            session, ticket, members, headline=f"{what} from {author}:",
            text=message.new_text or message.body_text, kind=kind, now=now,
            skip_message_id=message.id, attachments=_files(mail), html=mail.html,
        )  # fmt: skip
        return len(sent)

    def refuse(self, session, row, sender, mail, too_much: limits.Violation, now) -> int:
        """Over a limit: held with the reason; a known contact is told in plain words."""
        spool.add_quarantine(session, row.id, now, too_much.reason, too_much.detail, sender.email)
        if sender.contact is None or senders.automatic_reason(mail, Envelope(row.mail_from, ())):
            return 0
        self.notices.refused(session, sender.contact, mail, too_much, now)
        return 1

    def hold(self, session, row, mail, decision: Hold, now) -> int:
        sender = mail.sender.email if mail.sender else ""
        spool.add_quarantine(session, row.id, now, decision.reason, decision.detail, sender)
        repo.add_event(
            session, now, "held", actor=sender,
            detail={"inbound_id": row.id, "reason": decision.reason},
        )  # fmt: skip
        # RFC 3834 4: an automatic answer goes to the envelope sender (the Return-Path), not
        # to the From a stranger can write anything into.
        return_path = row.mail_from
        if decision.notices_capped:
            _note_notices_capped(session, now)
        if not decision.notify_stranger or not return_path:
            return 0
        self.notices.stranger(session, return_path, now)
        repo.add_event(session, now, "stranger-notice", actor=return_path,
                       detail={"inbound_id": row.id})  # fmt: skip
        return 1


def _note_notices_capped(session, now) -> None:
    """The first notice withheld by the hourly cap in an hour leaves an event, which `gateway
    status` names as needing a look (mail in forged names, most likely), and a log line."""
    if repo.count_events_since(session, "stranger-notices-capped", now - NOTICE_CAP_WINDOW):
        return
    log.warning("notices to unknown senders reached limits.stranger_notices_per_hour; "
                "the rest this hour are held unanswered")  # fmt: skip
    repo.add_event(session, now, "stranger-notices-capped")


def _files(mail) -> tuple[compose.OutgoingAttachment, ...]:
    """The customer's attachments, carried to staff as they were received (inline ones too)."""
    return inline_relay.files(mail.attachments)


def awaits_answer(ticket, decision: AddToTicket) -> bool:
    """A follow-up starts the reply clock once the first response is given (before it, the
    first-response clock runs): a new deadline unless one runs already for an earlier unanswered
    message, or the ticket was resolved or closed (its old deadline no longer counts)."""
    if decision.automatic or decision.reply_due_at is None or ticket.first_response_at is None:
        return False
    return ticket.reply_due_at is None or decision.reopen
