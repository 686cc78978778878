"""Outbox rows: enqueue, claim what is due (SKIP LOCKED on PostgreSQL), mark the outcome.

A claimed row is leased by pushing `next_attempt_at` forward, so a crash mid-send only delays
the row until the lease ends; no row is ever stuck in a "sending" state.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import insert, or_, update
from sqlmodel import Session, col, select

from gateway.store import sealing
from gateway.store.erasure_copies import FORGOTTEN
from gateway.store.retention import EMPTIED
from gateway.store.tables import Outbox

NOTHING_KEPT = (FORGOTTEN, EMPTIED)

LEASE = timedelta(minutes=5)


# Written at once with one statement each, not as ORM rows: no caller holds the row, and an
# ORM row's construction and flush cost several times the statements.
_INSERT = insert(Outbox.__table__).returning(Outbox.__table__.c.id)


def add(session: Session, **fields) -> int:
    """Queue one mail (`raw` sealed on the way); its id."""
    rcpts = fields["rcpt_to"]
    values = {
        "status": "pending", "attempts": 0, "last_error": None, "sent_at": None,
        "dedupe_key": None, **fields, "rcpt_to": json.dumps(rcpts),
        "recipient_key": rcpts[0].lower() if rcpts else "",
    }  # fmt: skip
    return session.execute(_INSERT, sealing.sealed_values(session, Outbox, values)).scalar_one()


def any_due(session: Session, now: datetime) -> bool:
    query = select(Outbox.id).where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
    return session.exec(query.limit(1)).first() is not None


def claim_due(session: Session, now: datetime, limit: int) -> list[Outbox]:
    query = (
        select(Outbox)
        .where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
        .order_by(col(Outbox.next_attempt_at), col(Outbox.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.exec(query))
    if rows:  # the lease: one statement for all, not an ORM update flushed for each
        lease = update(Outbox).where(col(Outbox.id).in_([row.id for row in rows]))
        lease = lease.values(next_attempt_at=now + LEASE, attempts=Outbox.attempts + 1)
        session.execute(lease, execution_options={"synchronize_session": False})
    return rows  # as read: their lease and attempts are in the database only


def mark_sent(session: Session, outbox_ids: list[int], now: datetime) -> None:
    if outbox_ids:
        statement = update(Outbox).where(col(Outbox.id).in_(outbox_ids))
        session.execute(statement.values(status="sent", sent_at=now, last_error=None))


def retry_failed(session: Session, ids: list[int] | None, now: datetime) -> list[Outbox]:
    """Put failed rows (all, or those of `ids`) back to be sent now, with a new lifetime."""
    # A row whose bytes were let go (it named a contact erased since, or its ticket was
    # emptied after the retention period) has nothing to send.
    kept = or_(col(Outbox.last_error).is_(None), col(Outbox.last_error).not_in(NOTHING_KEPT))
    query = select(Outbox).where(Outbox.status == "failed", kept)
    query = query.order_by(col(Outbox.id))
    if ids:
        query = query.where(col(Outbox.id).in_(ids))
    rows = list(session.exec(query))
    for row in rows:
        row.status, row.attempts, row.next_attempt_at, row.retried_at = "pending", 0, now, now
        session.add(row)
    return rows


def for_ticket(session: Session, ticket_id: int) -> list[Outbox]:
    """The mail a ticket caused, oldest first (its bytes stay sealed unless read)."""
    query = select(Outbox).where(Outbox.ticket_id == ticket_id).order_by(col(Outbox.id))
    return list(session.exec(query))


def get(session: Session, outbox_id: int) -> Outbox | None:
    return session.get(Outbox, outbox_id)


def list_rows(session: Session, status: str | None, limit: int) -> list[Outbox]:
    query = select(Outbox).order_by(col(Outbox.id).desc()).limit(limit)
    if status:
        query = query.where(Outbox.status == status)
    return list(session.exec(query))
