"""Figures for `gateway status`: what waits, what failed, and since when."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from gateway.store import repo
from gateway.store.tables import Event, Inbound, Outbox, Quarantine


@dataclass(frozen=True)
class Health:
    inbound: dict[str, int]  # rows by status: pending, done, failed
    oldest_pending_inbound: datetime | None  # received, not yet processed
    outbox: dict[str, int]  # rows by status: pending, sent, failed
    oldest_due_outbox: datetime | None  # due to be sent and not sent yet
    held: int  # mail held instead of ticketed, not released
    notices_capped_at: datetime | None  # last time the hourly cap on strangers' notices held
    imap_down: dict[str, tuple[datetime, str]]  # mailbox -> (unavailable since, why)


def figures(session: Session, now: datetime) -> Health:
    inbound = dict(
        session.exec(select(Inbound.status, func.count()).group_by(Inbound.status)).all()
    )
    outbox = dict(session.exec(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
    oldest_inbound = session.exec(
        select(func.min(Inbound.received_at)).where(Inbound.status == "pending")
    ).one()
    oldest_due = session.exec(
        select(func.min(Outbox.next_attempt_at)).where(
            Outbox.status == "pending", Outbox.next_attempt_at <= now
        )
    ).one()
    held = session.exec(
        select(func.count()).select_from(Quarantine).where(col(Quarantine.released_at).is_(None))
    ).one()
    capped = session.exec(
        select(func.max(Event.at)).where(Event.kind == "stranger-notices-capped")
    ).one()
    return Health(
        {status: inbound.get(status, 0) for status in ("pending", "done", "failed")},
        oldest_inbound,
        {status: outbox.get(status, 0) for status in ("pending", "sent", "failed")},
        oldest_due,
        held,
        capped,
        imap_down(session),
    )


IMAP_STATES = {"unavailable": "imap-unavailable", "available": "imap-available"}


def record_imap_state(session: Session, now: datetime, mailbox: str, state: str, reason: str):
    """A mailbox's poller could not read it (`reason`), or can again."""
    repo.add_event(session, now, IMAP_STATES[state], actor=mailbox,
                   detail={"reason": reason} if reason else None)  # fmt: skip


def imap_down(session: Session) -> dict[str, tuple[datetime, str]]:
    """Mailboxes whose last word was "unavailable": since when, and why."""
    query = (
        select(Event.actor, Event.kind, Event.at, Event.detail)
        .where(col(Event.kind).in_(list(IMAP_STATES.values())))
        .order_by(col(Event.at), col(Event.id))
    )
    last: dict[str, tuple[str, datetime, str]] = {}
    for mailbox, kind, at, detail in session.exec(query):
        last[mailbox] = (kind, at, json.loads(detail).get("reason", "") if detail else "")
    return {name: (at, why) for name, (kind, at, why) in last.items()
            if kind == "imap-unavailable"}  # fmt: skip
