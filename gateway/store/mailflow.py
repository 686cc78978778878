"""Queries for mail hygiene: installation secrets, bouncing addresses."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gateway.store.tables import Bouncing, InstallationSecret


def installation_secret(session: Session, name: str) -> bytes:
    """The named random key, created on first use (a concurrent creator's key wins)."""
    row = session.get(InstallationSecret, name)
    if row is not None:
        return row.value
    try:
        with session.begin_nested():
            session.add(InstallationSecret(name=name, value=secrets.token_bytes(32)))
    except IntegrityError:
        pass
    return session.get(InstallationSecret, name).value


def bouncing(session: Session, addresses: list[str]) -> set[str]:
    if not addresses:
        return set()
    query = select(Bouncing.address).where(
        col(Bouncing.address).in_([a.lower() for a in addresses]),
        col(Bouncing.cleared_at).is_(None),
    )
    return set(session.exec(query))


def mark_bouncing(
    session: Session, address: str, now: datetime, status: str, diagnostic: str, outbox_id: int
) -> None:
    row = session.get(Bouncing, address.lower())
    if row is None:
        row = Bouncing(address=address.lower(), since=now)
    row.since, row.status, row.diagnostic = now, status, diagnostic
    row.outbox_id, row.cleared_at = outbox_id, None
    session.add(row)


def clear_bouncing(session: Session, address: str, now: datetime) -> bool:
    row = session.get(Bouncing, address.lower())
    if row is None or row.cleared_at is not None:
        return False
    row.cleared_at = now
    session.add(row)
    return True


def list_bouncing(session: Session) -> list[Bouncing]:
    query = (
        select(Bouncing).where(col(Bouncing.cleared_at).is_(None)).order_by(col(Bouncing.address))
    )
    return list(session.exec(query))
