"""A customer's history by mail: the charter's "full history of past exchanges, for the customer".

A registered contact who writes `[history]` (or `[historique]`) in a subject gets back, at their
address on file and nowhere else, the whole public exchange of the ticket the mail replies to
(their messages and staff replies, never internal notes), or, for a mail naming no ticket of
theirs, the list of the requests they may see: their own and those they are copied on, and for
an account's owners and admins every request of the account and of its clients. Such a mail
asks the gateway, not a person: it opens no ticket and joins none, so the answer says how to
write to the team instead. One answer an hour for each ticket and for the list, so a forged
From line cannot fill a customer's mailbox; automatic mail gets none.
"""

from __future__ import annotations

import re
from datetime import datetime

from gateway import outbox
from gateway.core import permissions, threads
from gateway.core.model import AddToTicket, OpenTicket, ParsedMail, Sender
from gateway.store import accounts, repo, staffing

KEYWORD = re.compile(r"\[\s*(?:history|historique)\s*\]", re.IGNORECASE)
LISTED = 50  # requests in the list, latest first
SHOWN = 100  # messages of one ticket, the latest
WHEN = "%Y-%m-%d %H:%M UTC"


def asked(mail: ParsedMail, sender: Sender, decision) -> bool:
    """A contact's own mail (not an auto-reply) with the keyword in its subject."""
    if sender.contact is None or not KEYWORD.search(mail.subject):
        return False
    if isinstance(decision, OpenTicket):
        return decision.confirm  # False for automatic mail and over the hourly caps
    return isinstance(decision, AddToTicket) and not decision.automatic


def answer(session, notices, row, sender: Sender, decision, now: datetime) -> int:
    """Queue the history (the mails queued: 0 or 1) and record that it was asked for."""
    contact = sender.contact
    ticket = None
    if isinstance(decision, AddToTicket):
        ticket = repo.get_ticket(session, decision.ticket.id)
    if ticket is not None:
        template, context = "history_ticket", _ticket_context(session, notices, ticket, contact)
    else:
        template, context = "history_list", _list_context(session, notices, contact)
    company, lang = notices.company, notices.language(contact.language)
    rendered = notices.renderer.render(template, lang, context | {"company": company.name})
    reply_to = threads.token_address(company.support_address, ticket.reply_token) if ticket else ""
    draft = company.draft_to(contact.email, contact.name, rendered, lang, reply_to=reply_to)
    scope = ticket.id if ticket is not None else "list"
    queued = outbox.enqueue(
        session, draft, kind="history", ticket_id=ticket.id if ticket else None,
        envelope_from=company.bounce_address, now=now, message_domain=company.domain,
        dedupe_key=f"history:{contact.id}:{scope}:{now:%Y%m%d%H}",
    )  # fmt: skip
    repo.add_event(session, now, "history-asked", ticket_id=ticket.id if ticket else None,
                   detail={"inbound_id": row.id, "sent": bool(queued)})  # fmt: skip
    return 1 if queued else 0


def _ticket_context(session, notices, ticket, contact) -> dict:
    messages = [m for m in repo.ticket_messages(session, ticket.id) if _shown(m)]
    return {
        "tag": threads.subject_tag(notices.company.tag, ticket.id),
        "subject": ticket.subject,
        "status": ticket.status,
        "opened": ticket.created_at.strftime(WHEN),
        "left_out": max(0, len(messages) - SHOWN),
        "messages": [_entry(session, notices, m, contact) for m in messages[-SHOWN:]],
    }


def _shown(message) -> bool:
    """Public messages people wrote: internal notes and recorded auto-replies stay out."""
    return message.visibility == "public" and "automatic" not in message.flags.split(",")


def _entry(session, notices, message, contact) -> dict:
    if message.author_contact_id == contact.id:
        who = None  # "you", in the reader's language
    elif message.author_staff_id is not None:
        staff = staffing.staff_by_id(session, message.author_staff_id)
        who = f"{staff.name if staff else '?'} ({notices.company.name})"
    else:
        who = message.author_email or "?"
    return {
        "at": message.created_at.strftime(WHEN),
        "who": who,
        "text": (message.new_text or message.body_text).strip(),
        "files": [a.filename for a in repo.message_attachments(session, message.id)],
    }


def _list_context(session, notices, contact) -> dict:
    rows = []
    for ticket in accounts.visible_tickets(session, contact, LISTED):
        access = accounts.ticket_access(session, ticket)
        if permissions.may(permissions.Action.REPLY, contact, access, verified=False):
            rows.append(
                {
                    "tag": threads.subject_tag(notices.company.tag, ticket.id),
                    "subject": ticket.subject,
                    "status": ticket.status,
                    "opened": ticket.created_at.strftime("%Y-%m-%d"),
                    "updated": ticket.updated_at.strftime("%Y-%m-%d"),
                }
            )
    return {"tickets": rows, "listed": LISTED}
