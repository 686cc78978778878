"""What an erased contact leaves on tickets someone else opened (research case 45).

Their own messages there are sealed under their key and die with it. Copies of them are not:
the mail sent about such a ticket is sealed under its requester's key (a notification quoting
them, a reply to them or copying them), and a staff reply's full text, quotes and all, too.
Once their key is destroyed, the sent and given-up mail of those tickets that names them
(their address, or their name) keeps no bytes, and staff replies written after their first
message there keep only the staff member's own words. Mail still waiting to go out is left to
be sent: it was written for someone who was not erased.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from gateway.store.tables import Message, Outbox, Ticket, TicketCc

FORGOTTEN = "kept no copy: it named a contact who was erased since"


def forget_in_others_tickets(session: Session, contact_id: int, address: str, name: str) -> dict:
    """Call with the contact's address and name read before their key was destroyed."""
    involved = select(TicketCc.ticket_id).where(TicketCc.contact_id == contact_id).union(
        select(Message.ticket_id).where(Message.author_contact_id == contact_id)
    )  # fmt: skip
    tickets = session.exec(
        select(Ticket.id).where(col(Ticket.id).in_(involved), Ticket.requester_id != contact_id)
    ).all()
    if not tickets:
        return {"copies_forgotten": 0, "quotes_forgotten": 0}
    return {
        "copies_forgotten": _forget_mail(session, tickets, _needles(address, name)),
        "quotes_forgotten": _forget_quotes(session, tickets, contact_id),
    }


def _needles(address: str, name: str) -> list[bytes]:
    needles = [address.lower().encode()]
    if len(name.strip()) >= 4:  # a name of a few letters would match unrelated words
        needles.append(name.strip().lower().encode())
    return needles


def _forget_mail(session: Session, tickets, needles: list[bytes]) -> int:
    query = select(Outbox).where(
        col(Outbox.ticket_id).in_(tickets), col(Outbox.status).in_(("sent", "failed"))
    )
    forgotten = 0
    for row in session.exec(query).all():
        if row.raw and any(needle in row.raw.lower() for needle in needles):
            row.raw = b""
            if row.status == "failed":  # nothing left to retry: `outbox retry` skips it
                row.last_error = FORGOTTEN
            session.add(row)
            forgotten += 1
    return forgotten


def _forget_quotes(session: Session, tickets, contact_id: int) -> int:
    """Staff replies' full text after the contact's first message on each ticket: it may quote
    them. The reply's own words (`new_text`, sealed under the company key) stay."""
    first = {}
    for ticket_id, at in session.exec(
        select(Message.ticket_id, Message.created_at)
        .where(Message.author_contact_id == contact_id, col(Message.ticket_id).in_(tickets))
        .order_by(col(Message.created_at))
    ).all():
        first.setdefault(ticket_id, at)
    forgotten = 0
    query = select(Message).where(
        col(Message.ticket_id).in_(list(first)), col(Message.author_staff_id).is_not(None)
    )
    for message in session.exec(query).all():
        if message.created_at >= first[message.ticket_id] and message.body_text != message.new_text:
            message.body_text = message.new_text
            session.add(message)
            forgotten += 1
    return forgotten
