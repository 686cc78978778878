"""Outbox rows: enqueue, claim what is due (SKIP LOCKED on PostgreSQL), mark the outcome.

A claimed row is leased by pushing `next_attempt_at` forward, so a crash mid-send only delays
the row until the lease ends; no row is ever stuck in a "sending" state.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from gateway.store.tables import Outbox

LEASE = timedelta(minutes=5)


def add(session: Session, **fields) -> Outbox:
    rcpts = fields["rcpt_to"]
    row = Outbox(
        **{**fields, "rcpt_to": json.dumps(rcpts)},
        recipient_key=rcpts[0].lower() if rcpts else "",
    )
    session.add(row)
    session.flush()
    return row


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
    for row in rows:
        row.next_attempt_at = now + LEASE
        row.attempts += 1
        session.add(row)
    return rows


def mark_sent(session: Session, outbox_ids: list[int], now: datetime) -> None:
    if outbox_ids:
        statement = update(Outbox).where(col(Outbox.id).in_(outbox_ids))
        session.execute(statement.values(status="sent", sent_at=now, last_error=None))


def get(session: Session, outbox_id: int) -> Outbox | None:
    return session.get(Outbox, outbox_id)


def list_rows(session: Session, status: str | None, limit: int) -> list[Outbox]:
    query = select(Outbox).order_by(col(Outbox.id).desc()).limit(limit)
    if status:
        query = query.where(Outbox.status == status)
    return list(session.exec(query))
