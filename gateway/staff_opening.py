"""A ticket a staff member opens for a customer: a request taken by phone, or mail the customer
sent to someone's own inbox, is logged and confirmed in writing like any other.

The staff member writes a new mail to the support address with `/open ADDRESS` on its first
line and the request below it (a forwarded mail may stay whole). ADDRESS must be a registered,
active contact: the gateway writes to no one else. The ticket and its request are the
customer's (their account, language, deadline; their data to export or erase), marked as logged
by the staff member, who is assigned. The customer gets the written confirmation with the
request as recorded and who took it, so a mistake in it can be put right by a reply. Staff
addresses in it (a forwarded mail's header) are replaced by the support address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from gateway import staff_commands
from gateway.core import commands, sla
from gateway.core.commands import CommandError, ParsedCommands
from gateway.core.htmltext import html_to_text
from gateway.core.model import ParsedMail
from gateway.notices import Notices
from gateway.store import directory, repo, spool, staffing
from gateway.store.tables import Contact, Staff, Ticket

_FORWARD_PREFIX = re.compile(r"^\s*((fwd?|tr|wg)\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class OpeningSettings:
    first_response_minutes: int = 60
    calendars: sla.Calendars = sla.Calendars()
    default_department: str = ""


def wanted(parsed: ParsedCommands) -> bool:
    """Whether a staff mail naming no ticket asks to open one for a customer."""
    return any(command.verb == "open" for command in parsed.actions)


def full_text(mail: ParsedMail) -> str:
    """The whole text, forwarded mail included: it is the request, not quoted history."""
    return mail.text if mail.text.strip() else html_to_text(mail.html)


class StaffOpening:
    def __init__(self, notices: Notices, settings: OpeningSettings):
        self.notices, self.settings = notices, settings

    def check(self, session, parsed: ParsedCommands, mail: ParsedMail):
        """(the contact, the errors): one customer, who may have a ticket, and a request."""
        opens = [c for c in parsed.actions if c.verb == "open"]
        if len(opens) > 1:
            return None, [CommandError(c.line, "one /open a mail: one customer, one ticket")
                          for c in opens[1:]]  # fmt: skip
        command = opens[0]
        contact = directory.contact_by_email(session, command.argument)
        problem = ""
        if contact is None or contact.erased_at is not None:
            problem = (f"{command.argument} is not a registered contact; a manager registers "
                       "them (/contact add, or gateway contacts import) first")  # fmt: skip
        elif not contact.active:
            problem = f"{command.argument} is a deactivated contact"
        elif parsed.internal:
            problem = "a ticket opened for a customer is theirs to read: leave out /note"
        elif not parsed.body.strip() and not mail.attachments:
            problem = ("write the customer's request below this line: the ticket records it "
                       "and the confirmation repeats it to them")  # fmt: skip
        return (None, [CommandError(command.line, problem)]) if problem else (contact, [])

    def open(self, session, row, mail: ParsedMail, contact: Contact, author: Staff,
             request: str, message_id: str, verdict: str, now: datetime) -> Ticket:  # fmt: skip
        """Open the ticket, record the request and confirm it to the customer."""
        department = staffing.department(session, author.department_id) or (
            staffing.department_by_name(session, self.settings.default_department)
        )
        calendar = self.settings.calendars.for_department(department.name if department else "")
        subject = _FORWARD_PREFIX.sub("", mail.subject).strip() or "(no subject)"
        ticket = repo.create_ticket(
            session, subject=subject[:500], category="request", requester_id=contact.id,
            account_id=contact.account_id, language=contact.language,
            department_id=department.id if department else None, assignee_id=author.id,
            created_at=now, updated_at=now,
            sla_due_at=sla.first_response_due(now, self.settings.first_response_minutes,
                                              calendar),
        )  # fmt: skip
        # The request is the customer's (their data: exported and erased with them, the first
        # message of their ticket); the flag and the event say who logged it.
        request = _without_staff_addresses(session, request, self.notices.company.support_address)
        message = repo.add_message(
            session, ticket_id=ticket.id, inbound_id=row.id, direction="in",
            visibility="public", author_contact_id=contact.id, author_email=contact.email,
            message_id=message_id, header_message_id=mail.message_id, subject=mail.subject,
            body_text=request, new_text=request, auth_verdict=verdict[:200],
            flags=staffing.LOGGED_BY_STAFF, created_at=now,
        )  # fmt: skip
        for item in mail.attachments:
            repo.add_attachment(session, message.id, item.filename, item.content_type, item.data,
                                content_id=item.content_id, inline=item.inline)  # fmt: skip
        repo.add_event(session, now, "ticket-opened", ticket_id=ticket.id, actor=author.email,
                       detail={"category": "request", "inbound_id": row.id, "by": "staff",
                               "contact_id": contact.id})  # fmt: skip
        echoed = replace(mail, text=request, message_id="", references=())
        self.notices.confirmation(session, ticket, repo.contact_info(contact), echoed, now,
                                  taken_by=author.name)  # fmt: skip
        return ticket


def _without_staff_addresses(session, text: str, support_address: str) -> str:
    """A forwarded mail's header names the staff member's own inbox: the customer is shown
    the support address instead (staff addresses never reach customers)."""
    for address in staffing.all_staff_emails(session):
        text = re.sub(re.escape(address), support_address, text, flags=re.IGNORECASE)
    return text


def handle(opening: StaffOpening, desk, session, row, mail: ParsedMail, author: Staff,
           verdict: str, now: datetime) -> int:  # fmt: skip
    """The staff desk's part: check, open, apply the mail's other commands to the new ticket
    (all or nothing), and tell the author. A refused mail is kept as held, with the reason."""
    parsed = commands.parse_commands(full_text(mail), mail.subject)
    contact, errors = opening.check(session, parsed, mail) if wanted(parsed) else (None, [])
    errors = [*parsed.errors, *errors]
    if not errors:
        savepoint = session.begin_nested()
        request = parsed.body.strip()
        message_id = repo.unique_message_id(session, mail.message_id, row.content_digest)
        ticket = opening.open(session, row, mail, contact, author, request, message_id, verdict,
                              now)  # fmt: skip
        others = tuple(c for c in parsed.actions if c.verb != "open")
        steps, errors = staff_commands.plan(session, ticket, author, others)
        if errors:
            savepoint.rollback()
        else:
            savepoint.commit()
    if errors:
        spool.add_quarantine(session, row.id, now, "staff-commands",
                             "a ticket to open for a customer, refused", author.email)  # fmt: skip
        return desk.reject(session, None, author, mail, errors, now)
    outcome = staff_commands.Outcome()
    for step in steps:
        staff_commands.apply(session, desk.notices, ticket, author, step, outcome, now,
                             approvals=desk.approvals)  # fmt: skip
    desk.settings.urgency.after_commands(session, ticket, steps, outcome, now)
    session.add(ticket)
    held = "assigned to you" if ticket.assignee_id == author.id else "not assigned to you"
    recorded = [
        f"ticket opened for {contact.email}, {held}; the answer is due "
        f"{ticket.sla_due_at:%Y-%m-%d %H:%M} UTC",
        "written confirmation sent to them, with the request as you recorded it",
        *outcome.recorded,
        "reply to this mail to answer them (start with /note for a note among staff)",
    ]
    context = {"subject": ticket.subject, "ok": True, "recorded": recorded, "errors": [],
               "notified": sorted({contact.email, *(s.to for s in outcome.sent)}),
               "not_notified": []}  # fmt: skip
    desk.notices.receipt(session, ticket, author, context, now)
    return 2 + len(outcome.sent)
