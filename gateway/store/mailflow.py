"""Queries for mail hygiene: installation secrets, bouncing addresses."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import bindparam, inspect
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from gateway.store.remembered import remembered
from gateway.store.tables import Bouncing, InstallationSecret

_CREATED = remembered("secrets_created")  # session.info: the key rows this transaction inserted


def installation_secret(session: Session, name: str) -> bytes:
    """The named random key, created on first use (a concurrent creator's key wins).

    A committed key never changes, so it is remembered in the `secrets` dict the `Database`
    hands each of its sessions (one query fewer per mail queued); a key this transaction
    inserts is remembered only once it is committed (`remember_created`)."""
    remembered = session.info.get("secrets")
    if remembered is not None and name in remembered:
        return remembered[name]
    row = session.get(InstallationSecret, name)
    if row is None:
        row = _create(session, name)
        if row is not None:
            session.info.setdefault(_CREATED, {})[name] = row  # held: stays in the session
            return row.value
        row = session.get(InstallationSecret, name)
    if remembered is not None:
        remembered[name] = row.value
    return row.value


def _create(session: Session, name: str) -> InstallationSecret | None:
    """The new key's row, or None when another writer's came first."""
    row = InstallationSecret(name=name, value=secrets.token_bytes(32))
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return None
    return row


def remember_created(session: Session) -> None:
    """After the transaction committed: remember the keys it inserted, except those a rolled
    back savepoint took away again (the session no longer holds those rows)."""
    remembered = session.info.get("secrets")
    for name, row in session.info.pop(_CREATED, {}).items():
        if remembered is not None and inspect(row).has_identity:
            remembered[name] = row.value


# Asked before each automatic mail is queued: built once (built per call, the statement took
# longer to put together than to run), on the table's columns (a plain statement, at half the
# cost through the ORM; the session still flushes pending rows first).
_BOUNCING_ROWS = Bouncing.__table__.c
_BOUNCING = select(_BOUNCING_ROWS.address).where(
    _BOUNCING_ROWS.address.in_(bindparam("addresses", expanding=True)),
    _BOUNCING_ROWS.cleared_at.is_(None),
)


def bouncing(session: Session, addresses: list[str]) -> set[str]:
    if not addresses:
        return set()
    found = session.execute(_BOUNCING, {"addresses": [a.lower() for a in addresses]})
    return set(found.scalars())


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
