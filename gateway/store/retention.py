"""Closed tickets past the retention period keep their shape, not their words: the figures of
past weeks (dates, statuses, who answered, scores) stay, while the text, files, raw mail and
rating comments of the ticket go (`lifecycle.forget_closed_days`). Permission requests keep
their proof: it protects the customer as much as the company.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists
from sqlmodel import Session, col, select

from gateway.store.tables import Attachment, Blob, Inbound, Message, Outbox, Rating, Ticket

FORGOTTEN_SUBJECT = "(forgotten after the retention period)"
EMPTIED = "kept no copy: its ticket was emptied after the retention period"


def due(
    session: Session, until: datetime, since: datetime, limit: int
) -> list[tuple[int, datetime]]:
    """(id, resolved_at) of closed tickets resolved by `until` whose words are kept: never
    emptied (through the partial index of those), or emptied before a later reopening and
    closed again since `since` (through the index on status, resolved_at)."""
    kept = select(Ticket.id, Ticket.resolved_at).where(
        Ticket.status == "closed", col(Ticket.resolved_at) <= until,
        col(Ticket.forgotten_at).is_(None),
    )  # fmt: skip
    again = select(Ticket.id, Ticket.resolved_at).where(
        Ticket.status == "closed", col(Ticket.resolved_at) >= since,
        col(Ticket.resolved_at) <= until, col(Ticket.forgotten_at) < col(Ticket.resolved_at),
    )  # fmt: skip
    found = list(session.exec(kept.order_by(col(Ticket.resolved_at)).limit(limit)))
    return found + list(session.exec(again.limit(limit)))


def forget_ticket(session: Session, ticket: Ticket, now: datetime) -> dict:
    """Empty what the ticket's people wrote and sent; returns what went, counted."""
    messages = list(session.exec(select(Message).where(Message.ticket_id == ticket.id)))
    ids = [m.id for m in messages]
    inbound_ids = [m.inbound_id for m in messages if m.inbound_id is not None]
    for message in messages:
        message.subject = message.body_text = message.new_text = message.author_email = ""
        session.add(message)
    blobs = set(session.exec(select(Attachment.blob_id).where(col(Attachment.message_id).in_(ids))))
    files = session.execute(delete(Attachment).where(col(Attachment.message_id).in_(ids))).rowcount
    for blob_id in blobs:  # a file sent again elsewhere is stored once: kept while used
        if not session.exec(select(exists().where(Attachment.blob_id == blob_id))).one():
            session.execute(delete(Blob).where(Blob.id == blob_id))
    for row in session.exec(select(Inbound).where(col(Inbound.id).in_(inbound_ids))):
        row.raw, row.mail_from, row.peer = b"", "", ""
        session.add(row)
    sent = 0
    for row in session.exec(select(Outbox).where(Outbox.ticket_id == ticket.id,
                                                 Outbox.status != "pending")):  # fmt: skip
        row.raw = b""
        if row.status == "failed":  # nothing left to send: `outbox retry` skips it
            row.last_error = EMPTIED
        session.add(row)
        sent += 1
    for rating in session.exec(select(Rating).where(Rating.ticket_id == ticket.id)):
        rating.comment = ""
        session.add(rating)
    ticket.subject, ticket.forgotten_at = FORGOTTEN_SUBJECT, now
    session.add(ticket)
    return {"messages": len(messages), "files": files, "mails": sent}
