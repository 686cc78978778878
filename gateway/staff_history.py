"""A customer's whole history for any staff member, by mail: `/history ADDRESS` in a new mail
to the support address brings back every ticket of that contact's account (all its contacts),
latest first, with its tag, status, dates and requester; `/show` on one of them then brings
its whole thread. Each such reading is in the audit log of personal data, as the command
line's are; the staff member's mail is kept, as held, like any staff mail naming no ticket.
"""

from __future__ import annotations

from datetime import datetime

from gateway import privacy
from gateway.core import threads
from gateway.core.commands import CommandError, ParsedCommands
from gateway.store import directory, privacy_rows, repo, spool
from gateway.store.tables import Staff

LISTED = 100


def wanted(parsed: ParsedCommands) -> bool:
    """Whether a staff mail naming no ticket asks for a customer's history."""
    return any(command.verb == "history" for command in parsed.actions)


def handle(desk, session, row, mail, author: Staff, parsed: ParsedCommands, now: datetime) -> int:
    spool.add_quarantine(session, row.id, now, "staff-commands",
                         "a customer's history, asked by a staff member", author.email)  # fmt: skip
    contact, errors = _check(session, parsed)
    if errors:
        return desk.reject(session, None, author, mail, [*parsed.errors, *errors], now)
    rows = repo.list_tickets(session, None, LISTED, account_id=contact.account_id)
    total = repo.count_tickets(session, account_id=contact.account_id)
    tag = desk.notices.company.tag
    context = {
        "address": contact.email,
        "account": privacy_rows.account_name(session, contact.account_id),
        "total": total,
        "listed": len(rows),
        "tickets": [
            {
                "tag": threads.subject_tag(tag, t.id),
                "status": t.status,
                "requester": requester,
                "opened": t.created_at.strftime("%Y-%m-%d"),
                "subject": " ".join(t.subject.split()),
            }
            for t, requester in rows
        ],  # fmt: skip
        "example": threads.subject_tag(tag, rows[0][0].id) if rows else "",
    }
    desk.notices.staff_history(session, author, context, now)
    privacy.audit(session, now, author.email, "history by mail", contact_id=contact.id)
    return 1


def _check(session, parsed: ParsedCommands):
    asked = [c for c in parsed.actions if c.verb == "history"]
    errors = [CommandError(c.line, "only /history in a mail asking for a history: one a mail")
              for c in parsed.actions if c is not asked[0]]  # fmt: skip
    contact = directory.contact_by_email(session, asked[0].argument)
    if contact is None or contact.erased_at is not None:
        errors.append(CommandError(asked[0].line, f"{asked[0].argument} is not a contact"))
    return contact, errors
