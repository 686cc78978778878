"""The inbound spool: mail as received, its processing state, and the quarantine that holds
what was refused. Every function takes an open session, except the intake's two,
`known_inbound` and `add_inbound`, which take a bare connection.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from gateway.store import sealing
from gateway.store.tables import Inbound, Quarantine
from gateway.store.vault import Vault

# The intake runs these two on a bare connection (`Database.write_rows`), once per batch of
# mail waiting for its 250: built once, as Core statements, so each run only looks up the
# compiled form in SQLAlchemy's cache; no ORM session or unit of work is involved.
_SPOOL = Inbound.__table__
_KNOWN_INBOUND = select(_SPOOL.c.id, _SPOOL.c.message_id, _SPOOL.c.content_digest).where(
    _SPOOL.c.message_id.in_(bindparam("message_ids", expanding=True))
)
_ADD_INBOUND = insert(_SPOOL).returning(_SPOOL.c.id, sort_by_parameter_order=True)


def known_inbound(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of the stored rows among these (Message-ID, digest) pairs, in one query."""
    message_ids = sorted({message_id for message_id, _ in keys})
    if not message_ids:
        return {}
    rows = conn.execute(_KNOWN_INBOUND, {"message_ids": message_ids})
    return {(message_id, digest): row_id for row_id, message_id, digest in rows}


def add_inbound(conn: Connection, vault: Vault | None, rows: list[dict]) -> list[int]:
    """Store new spool rows, sealed, with one statement; their ids, in order."""
    if not rows:
        return []
    values = [
        sealing.sealed_spool_values(vault, conn, {**fields, "size": len(fields["raw"])})
        for fields in rows
    ]
    return list(conn.execute(_ADD_INBOUND, values).scalars())


def pending_inbound(session: Session, limit: int) -> list[Inbound]:
    query = (
        select(Inbound).where(Inbound.status == "pending").order_by(col(Inbound.id)).limit(limit)
    )
    return list(session.exec(query))


_STILL_PENDING = select(_SPOOL.c.id).where(
    _SPOOL.c.id.in_(bindparam("row_ids", expanding=True)), _SPOOL.c.status == "pending"
)
_STILL_PENDING_LOCKED = _STILL_PENDING.with_for_update(skip_locked=True)


def lock_all_pending_inbound(session: Session, row_ids: list[int]) -> set[int]:
    """The ids of these rows (as `pending_inbound` read them, before this transaction) still
    pending and now held by this transaction, in one statement (the others, another processor
    took or finished). Only the status is read again: a pending row's other columns change
    only when it is finished, so reading them all (and opening the sealed raw bytes) again
    cost more than the check. Take each row with `take_inbound`."""
    if not row_ids:
        return set()
    postgresql = session.get_bind().dialect.name == "postgresql"
    query = _STILL_PENDING_LOCKED if postgresql else _STILL_PENDING
    return set(session.execute(query, {"row_ids": row_ids}).scalars())


def take_inbound(session: Session, row: Inbound) -> Inbound:
    """`row`, checked and held by this transaction, in this session (copied: the row read
    before stays as it was, for a transaction applied again after a rollback)."""
    return session.merge(row, load=False)


_FINISH = (
    update(_SPOOL)
    .where(_SPOOL.c.id == bindparam("row_id"))
    .values(
        status=bindparam("new_status", type_=_SPOOL.c.status.type),
        processed_at=bindparam("at", type_=_SPOOL.c.processed_at.type),
        error=bindparam("reason", type_=_SPOOL.c.error.type),
        attempts=_SPOOL.c.attempts + 1,
    )
)
_FINISH_KEEPING = _FINISH.values(
    raw=bindparam("kept", type_=_SPOOL.c.raw.type),
    contact_id=bindparam("sender_id", type_=_SPOOL.c.contact_id.type),
    original_sha256=bindparam("sha256", type_=_SPOOL.c.original_sha256.type),
)


def finish_inbound(
    session: Session,
    row: Inbound,
    status: str,
    now: datetime,
    error: str | None,
    kept: dict | None = None,
) -> None:
    """One statement, not an ORM update (whose flush cost several times the statement), which
    also writes the raw copy kept (`privacy_rows.processed_raw`) when given; the row object
    reads the columns again if asked (a rolled-back savepoint may undo them)."""
    params = {"row_id": row.id, "new_status": status, "at": now, "reason": error}
    if kept is None:
        session.execute(_FINISH, params)
        session.expire(row, ["status", "processed_at", "error", "attempts"])
        return
    params |= {"kept": kept["raw"], "sender_id": kept["contact_id"],
               "sha256": kept["original_sha256"]}  # fmt: skip
    session.execute(_FINISH_KEEPING, params)
    session.expire(row, ["status", "processed_at", "error", "attempts", *kept])


def earlier_inbound_with_message_id(session: Session, row: Inbound) -> bool:
    query = select(Inbound.id).where(Inbound.message_id == row.message_id, Inbound.id < row.id)
    return session.exec(query).first() is not None


def reused_message_ids(session: Session, rows: list[Inbound]) -> set[int]:
    """Ids of these rows whose Message-ID an earlier inbound row carried, in one query (the
    processor asks before its write transaction, for a whole batch)."""
    message_ids = sorted({row.message_id for row in rows})
    if not message_ids:
        return set()
    query = select(Inbound.id, Inbound.message_id).where(col(Inbound.message_id).in_(message_ids))
    first: dict[str, int] = {}
    for row_id, message_id in session.exec(query):
        first[message_id] = min(row_id, first.get(message_id, row_id))
    return {row.id for row in rows if first.get(row.message_id, row.id) < row.id}


def list_inbound(session: Session, status: str | None, limit: int) -> list[Inbound]:
    query = select(Inbound).order_by(col(Inbound.id).desc()).limit(limit)
    if status:
        query = query.where(Inbound.status == status)
    return list(session.exec(query))


def retry_failed_inbound(session: Session, ids: list[int] | None) -> int:
    statement = update(Inbound).where(col(Inbound.status) == "failed")
    if ids:
        statement = statement.where(col(Inbound.id).in_(ids))
    result = session.execute(statement.values(status="pending", error=None))
    return result.rowcount or 0


# Quarantine --------------------------------------------------------------------------------


def add_quarantine(
    session: Session, inbound_id: int, at: datetime, reason: str, detail: str, sender: str
) -> None:
    session.add(
        Quarantine(
            inbound_id=inbound_id, created_at=at, reason=reason, detail=detail, sender=sender
        )
    )


def quarantine_for(session: Session, inbound_id: int) -> Quarantine | None:
    return session.exec(select(Quarantine).where(Quarantine.inbound_id == inbound_id)).first()


def list_quarantine(session: Session, limit: int) -> list[Quarantine]:
    query = select(Quarantine).order_by(col(Quarantine.id).desc()).limit(limit)
    return list(session.exec(query))


def held_mail(session: Session, held_id: int) -> tuple[Quarantine, Inbound] | None:
    held = session.get(Quarantine, held_id)
    if held is None:
        return None
    return held, session.get(Inbound, held.inbound_id)


def release_held(session: Session, held: Quarantine, inbound: Inbound) -> None:
    """Held mail back to pending, to be processed as if just received: its quarantine row
    goes (the caller records what it said), so a mail held again gets a row of the day."""
    inbound.status, inbound.error = "pending", None
    session.add(inbound)
    session.delete(held)
    session.flush()


def held_between(session: Session, since: datetime, until: datetime) -> list[Quarantine]:
    """Mail held in [since, until), oldest first (read through `quarantine.created_at`)."""
    query = select(Quarantine).where(
        col(Quarantine.created_at) >= since, col(Quarantine.created_at) < until
    )
    return list(session.exec(query.order_by(col(Quarantine.created_at), col(Quarantine.id))))


def held_before(session: Session, before: datetime) -> bool:
    query = select(Quarantine.id).where(Quarantine.created_at < before).limit(1)
    return session.exec(query).first() is not None


def forget_held(session: Session, before: datetime) -> int:
    """Held mail older than `before` forgotten: the quarantine row goes, and its spool row keeps
    only what recognises a redelivery (Message-ID, digest, size, dates), not the bytes nor the
    sender. Returns how many."""
    held = list(session.exec(select(Quarantine).where(Quarantine.created_at < before)))
    for row in held:
        inbound = session.get(Inbound, row.inbound_id)
        if inbound is not None:
            inbound.raw, inbound.mail_from, inbound.peer = b"", "", ""
            session.add(inbound)
        session.delete(row)
    return len(held)
