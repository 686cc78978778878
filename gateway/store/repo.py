"""Queries on the spool, tickets and messages; every function takes an open session (the
intake's two, `known_inbound` and `add_inbound`, a bare connection).

Rows become core dataclasses here, so nothing outside `store` handles ORM objects. The
queries every processed mail asks are built once, with bound parameters: built at each call, a
statement took longer to put together than to run.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import TypeVar

from sqlalchemy import (
    bindparam,
    event,
    func,
    insert,
    inspect,
    literal_column,
    or_,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from gateway.core.model import ContactInfo, StaffInfo, TicketInfo
from gateway.store import sealing, staffing
from gateway.store.tables import (
    Account,
    Attachment,
    Blob,
    Contact,
    Event,
    Inbound,
    Message,
    Outbox,
    Quarantine,
    Ticket,
)
from gateway.store.vault import Vault

_INBOUND_MESSAGES = "inbound_messages"  # session.info: inbound id -> first message stored
# Queries for columns name the tables' columns, not the classes' attributes: they run as plain
# statements then, at half the cost through the ORM (the session still flushes pending rows).
_MESSAGE, _OUTBOX = Message.__table__.c, Outbox.__table__.c
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


# Inbound spool ----------------------------------------------------------------------------


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


_PENDING_ROW = select(Inbound).where(Inbound.id == bindparam("id"), Inbound.status == "pending")
_PENDING_ROW_LOCKED = _PENDING_ROW.with_for_update(skip_locked=True)


def lock_pending_inbound(session: Session, inbound_id: int) -> Inbound | None:
    """The row if it is still pending and no other processor holds it."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    query = _PENDING_ROW_LOCKED if postgresql else _PENDING_ROW
    return session.exec(query, params={"id": inbound_id}).first()


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


# People -----------------------------------------------------------------------------------


def contact_info(row: Contact) -> ContactInfo:
    return ContactInfo(row.id, row.email, row.name, row.account_id, row.role, row.language)


_CONTACTS = "contacts-by-address"  # session.info: what this transaction found, until it writes
_CONTACT_BY_INDEX = select(Contact).where(Contact.email_hmac == bindparam("key"))


def find_contact(session: Session, email: str) -> ContactInfo | None:
    """The contact with this address; asked once per transaction (one mail asks for its
    sender three times: to classify it, to file it and to see whom else it names)."""
    key = sealing.email_index(session, email)
    found = session.info.setdefault(_CONTACTS, {})
    if key not in found:
        row = session.exec(_CONTACT_BY_INDEX, params={"key": key}).first()
        found[key] = contact_info(row) if row else None
    return found[key]


@event.listens_for(Session, "before_flush")
def _forget_contacts(session: Session, *_) -> None:
    """A contact written in this transaction may change any answer: ask again."""
    if any(isinstance(row, Contact) for row in (*session.new, *session.dirty, *session.deleted)):
        session.info.pop(_CONTACTS, None)


def find_staff(session: Session, email: str) -> StaffInfo | None:
    row = staffing.active_staff_by_email(session, email)
    if row is None:
        return None
    return StaffInfo(row.id, row.email, row.name, row.department_id, row.role)


# Tickets and messages ---------------------------------------------------------------------


_HELD = "rows-held"  # session.info: the tickets and accounts this transaction loaded


@event.listens_for(Session, "loaded_as_persistent")
def _hold(session: Session, row) -> None:
    """Tickets and accounts stay in the session until its transaction ends, so asking again
    for one by id reads nothing: the session keeps a row only while something refers to it,
    and a reply found by its token asked for that ticket by id four times more."""
    if isinstance(row, Ticket | Account):
        session.info.setdefault(_HELD, []).append(row)


def ticket_info(row: Ticket) -> TicketInfo:
    return TicketInfo(
        row.id, row.status, row.requester_id, row.account_id, row.reply_token, row.subject,
        row.language,
    )  # fmt: skip


_TICKET_BY_TOKEN = select(Ticket).where(Ticket.reply_token == bindparam("token"))


def ticket_by_token(session: Session, token: str | None) -> TicketInfo | None:
    if not token:
        return None
    row = session.exec(_TICKET_BY_TOKEN, params={"token": token}).first()
    return ticket_info(row) if row else None


def ticket_by_id(session: Session, ticket_id: int | None) -> TicketInfo | None:
    row = session.get(Ticket, ticket_id) if ticket_id else None
    return ticket_info(row) if row else None


_REFS = bindparam("refs", expanding=True)
_REFERENCED = union_all(  # stored messages first, then sent mail (which wins a tie)
    select(literal_column("0").label("sent"), _MESSAGE.message_id, _MESSAGE.ticket_id).where(
        or_(_MESSAGE.message_id.in_(_REFS), _MESSAGE.header_message_id.in_(_REFS))
    ),
    select(literal_column("1").label("sent"), _OUTBOX.message_id, _OUTBOX.ticket_id).where(
        _OUTBOX.message_id.in_(_REFS), _OUTBOX.ticket_id.is_not(None)
    ),
).order_by("sent")


def ticket_by_references(session: Session, references: tuple[str, ...]) -> TicketInfo | None:
    """The ticket of the first referenced Message-ID we stored or sent (one query)."""
    if not references:
        return None
    refs = list(references[:50])
    found = session.execute(_REFERENCED, {"refs": refs}).all()
    by_id = {mid: tid for _, mid, tid in found}
    for ref in refs:
        if ref in by_id:
            return ticket_by_id(session, by_id[ref])
    return None


def new_reply_token() -> str:
    """130 random bits in lowercase base32, safe in a local part that MTAs may case-fold."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(26))


def create_ticket(session: Session, **fields) -> Ticket:
    return _insert(session, Ticket(reply_token=new_reply_token(), **fields))


def get_ticket(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


_MESSAGE_ID = select(_MESSAGE.id).where(_MESSAGE.message_id == bindparam("message_id"))


def message_id_taken(session: Session, message_id: str) -> bool:
    return session.execute(_MESSAGE_ID, {"message_id": message_id}).first() is not None


def add_message(session: Session, **fields) -> Message:
    row = _insert(session, Message(**fields))
    if row.inbound_id is not None:
        session.info.setdefault(_INBOUND_MESSAGES, {}).setdefault(row.inbound_id, row)
    return row


# Tickets and messages are written with one Core statement each, then attached to the session
# as if just loaded: the ORM's flush of one new row cost more than its statement. Callers
# still get the ORM row (they change it, and the session finds it by id without a query).
_INSERTED = "rows-inserted"  # session.info: (savepoint or None, row) written by `_insert`
_COLUMNS = {kind: [c.name for c in kind.__table__.columns if c.name != "id"]
            for kind in (Ticket, Message)}  # fmt: skip
_INSERT = {kind: insert(kind.__table__).returning(kind.__table__.c.id) for kind in _COLUMNS}
_Row = TypeVar("_Row", Ticket, Message)


def _insert(session: Session, row: _Row) -> _Row:
    """Write `row` sealed, as a flush would, and attach it to the session, unchanged."""
    kind = type(row)
    values = {name: row.__dict__[name] for name in _COLUMNS[kind] if name in row.__dict__}
    sealed = sealing.sealed_values(session, kind, values)
    row.id = session.execute(_INSERT[kind], sealed).scalar_one()
    make_transient_to_detached(row)  # its values are the stored ones, plain
    session.add(row)
    session.info.setdefault(_INSERTED, []).append((session.get_nested_transaction(), row))
    return row


@event.listens_for(Session, "after_soft_rollback")
def _forget_inserted(session: Session, rolled_back) -> None:
    """A rolled-back savepoint takes away the rows `_insert` wrote in it; the ORM forgets only
    the rows it flushed itself, so these are let go here (SQLite gives their ids again)."""
    if not rolled_back.nested:
        return  # the whole transaction: its session is closed
    kept = []
    for savepoint, row in session.info.get(_INSERTED, ()):
        if _within(savepoint, rolled_back):
            if row in session:
                session.expunge(row)
        else:
            kept.append((savepoint, row))
    session.info[_INSERTED] = kept


def _within(transaction, outer) -> bool:
    while transaction is not None and transaction is not outer:
        transaction = transaction.parent
    return transaction is outer


def message_for_inbound(session: Session, inbound_id: int) -> Message | None:
    """The first message stored from this inbound row. A row's messages are stored only while
    it is processed, in this transaction, so the one `add_message` just wrote answers without
    reading it back (unless a rolled-back savepoint took it away)."""
    row = session.info.get(_INBOUND_MESSAGES, {}).get(inbound_id)
    if row is not None and inspect(row).persistent:
        return row
    query = select(Message).where(Message.inbound_id == inbound_id).order_by(col(Message.id))
    return session.exec(query).first()


def add_attachment(
    session: Session,
    message_id: int,
    filename: str,
    content_type: str,
    data: bytes,
    *,
    content_id: str = "",
    inline: bool = False,
) -> None:
    conn, vault = session.connection(), sealing.vault_of(session)
    key_id = sealing.owner_key(
        session, conn, Attachment, SimpleNamespace(message_id=message_id), ""
    )
    blob_id = vault.blob_id(conn, key_id, data)
    if session.get(Blob, blob_id) is None:
        session.add(Blob(id=blob_id, key_id=key_id, size=len(data), data=data))
        session.flush()
    session.add(
        Attachment(
            message_id=message_id,
            blob_id=blob_id,
            filename=filename,
            content_type=content_type,
            size=len(data),
            content_id=content_id,
            inline=inline,
        )
    )


_INSERT_EVENT = insert(Event.__table__)


def add_event(
    session: Session,
    at: datetime,
    kind: str,
    *,
    ticket_id: int | None = None,
    actor: str = "",
    detail: dict | None = None,
    dedupe_key: str | None = None,
) -> None:
    """Written at once with one statement, not as an ORM row: no caller holds the row, and
    an ORM row's construction and flush cost several times the statement."""
    values = {
        "at": at, "kind": kind, "ticket_id": ticket_id, "actor": actor,
        "detail": json.dumps(detail or {}, ensure_ascii=False, default=str),
        "dedupe_key": dedupe_key,
    }  # fmt: skip
    session.execute(_INSERT_EVENT, values)


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


def last_event_at(session: Session, kind: str, actor: str) -> datetime | None:
    query = select(func.max(Event.at)).where(Event.kind == kind, Event.actor == actor)
    return session.exec(query).first()


_AUTO_MAIL_COUNTS = select(
    func.count(_OUTBOX.id).filter(_OUTBOX.created_at > bindparam("hour_ago")),
    func.count(_OUTBOX.id),
).where(
    _OUTBOX.recipient_key == bindparam("address"),
    _OUTBOX.automatic.is_(True),
    _OUTBOX.created_at > bindparam("day_ago"),
)


def auto_mail_counts(session: Session, address: str, now: datetime) -> tuple[int, int]:
    """Automatic mails queued to `address` in the last hour and the last day (one query)."""
    since = {"hour_ago": now - timedelta(hours=1), "day_ago": now - timedelta(days=1)}
    hour, day = session.execute(_AUTO_MAIL_COUNTS, {"address": address.lower(), **since}).one()
    return hour, day


def list_tickets(session: Session, status: str | None, limit: int) -> list[tuple[Ticket, str]]:
    query = (
        select(Ticket, Contact)
        .join(Contact, col(Contact.id) == col(Ticket.requester_id))
        .order_by(col(Ticket.id).desc())
        .limit(limit)
    )
    if status:
        query = query.where(Ticket.status == status)
    return [(ticket, contact.email) for ticket, contact in session.exec(query).all()]


def ticket_messages(session: Session, ticket_id: int) -> list[Message]:
    query = select(Message).where(Message.ticket_id == ticket_id).order_by(col(Message.id))
    return list(session.exec(query))


def ticket_events(session: Session, ticket_id: int) -> list[Event]:
    query = select(Event).where(Event.ticket_id == ticket_id).order_by(col(Event.id))
    return list(session.exec(query))


def message_attachments(session: Session, message_id: int) -> list[Attachment]:
    return list(session.exec(select(Attachment).where(Attachment.message_id == message_id)))


def contact_by_id(session: Session, contact_id: int) -> Contact | None:
    return session.get(Contact, contact_id)
