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


def figures(session: Session, now: datetime, mailboxes: tuple[str, ...] = ()) -> Health:
    """`mailboxes`: the IMAP mailboxes of the configuration, looked at for outages."""
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
        imap_down(session, mailboxes),
    )


IMAP_STATES = {"unavailable": "imap-unavailable", "available": "imap-available"}


def record_imap_state(session: Session, now: datetime, mailbox: str, state: str, reason: str):
    """A mailbox's poller could not read it (`reason`), or can again (written only when the
    last word was that it could not: a poller says so at each start)."""
    if state == "available" and mailbox not in imap_down(session, (mailbox,)):
        return
    repo.add_event(session, now, IMAP_STATES[state], actor=mailbox,
                   detail={"reason": reason} if reason else None)  # fmt: skip


def imap_down(session: Session, mailboxes) -> dict[str, tuple[datetime, str]]:
    """Of these mailboxes, those whose last word was "unavailable": since when, and why (the
    latest event of each kind, read through the index on actor, kind and time)."""
    down = {}
    for mailbox in mailboxes:
        out = _latest(session, mailbox, "imap-unavailable")
        up = _latest(session, mailbox, "imap-available")
        if out is not None and (up is None or (up[0], up[1]) < (out[0], out[1])):
            down[mailbox] = (out[0], json.loads(out[2]).get("reason", "") if out[2] else "")
    return down


def _latest(session: Session, actor: str, kind: str):
    """(at, id, detail) of the actor's latest event of this kind, or None."""
    query = select(Event.at, Event.id, Event.detail).where(Event.actor == actor, Event.kind == kind)
    return session.exec(query.order_by(col(Event.at).desc(), col(Event.id).desc()).limit(1)).first()
