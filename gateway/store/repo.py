"""Queries on contacts, staff, tickets, messages and events; every function takes an open
session (the spool's rows and the quarantine have `spool`).

Rows become core dataclasses here, so nothing outside `store` handles ORM objects. The
queries every processed mail asks are built once, with bound parameters: built at each call, a
statement took longer to put together than to run.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta
from types import SimpleNamespace

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
from sqlalchemy.orm import attributes
from sqlmodel import Session, col, select

from gateway.core.model import ContactInfo, StaffInfo, TicketInfo
from gateway.store import row_insert, sealing, staffing
from gateway.store.remembered import remembered
from gateway.store.tables import (
    Account,
    Attachment,
    Blob,
    Contact,
    Event,
    Message,
    Outbox,
    Ticket,
)

_INBOUND_MESSAGES = remembered(
    "inbound_messages"
)  # session.info: inbound id -> first message stored
# Queries for columns name the tables' columns, not the classes' attributes: they run as plain
# statements then, at half the cost through the ORM (the session still flushes pending rows).
_MESSAGE, _OUTBOX = Message.__table__.c, Outbox.__table__.c


# People -----------------------------------------------------------------------------------


def contact_info(row: Contact) -> ContactInfo:
    return ContactInfo(
        row.id, row.email, row.name, row.account_id, row.role, row.language, row.active
    )


_CONTACTS = remembered(
    "contacts-by-address"
)  # session.info: what this transaction found, until it writes
_C = Contact.__table__.c
# A plain statement, not an ORM query: loading the row as an object cost more than reading
# and opening its two sealed columns here.
_CONTACT_BY_INDEX = select(
    _C.id, _C.email, _C.name, _C.account_id, _C.role, _C.language, _C.active, _C.key_id,
    _C.row_key,
).where(_C.email_hmac == bindparam("key"))  # fmt: skip


def find_contact(session: Session, email: str) -> ContactInfo | None:
    """The contact with this address; asked once per transaction (one mail asks for its
    sender three times: to classify it, to file it and to see whom else it names)."""
    key = sealing.email_index(session, email)
    found = session.info.setdefault(_CONTACTS, {})
    if key not in found:
        row = session.execute(_CONTACT_BY_INDEX, {"key": key}).first()
        found[key] = None if row is None else _contact_found(session, row)
    return found[key]


def _contact_found(session: Session, row) -> ContactInfo:
    sealing.remember_contact_key(session, row.id, row.key_id)
    email = sealing.opened(session, Contact, row.row_key, "email", row.email)
    name = sealing.opened(session, Contact, row.row_key, "name", row.name)
    return ContactInfo(row.id, email, name, row.account_id, row.role, row.language, row.active)


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
    return base64.b32encode(secrets.token_bytes(17)).decode("ascii")[:26].lower()


def create_ticket(session: Session, **fields) -> Ticket:
    return row_insert.insert_row(session, Ticket, reply_token=new_reply_token(), **fields)


_T = Ticket.__table__.c
_TOUCH = {}  # the UPDATE for each set of changed columns, built once


def update_ticket(session: Session, ticket: Ticket, **changes) -> None:
    """Write `changes` to a loaded ticket with one statement, and into the row as written: the
    ORM's flush of a changed row cost several times the statement (a reply changes its
    ticket every time). Only unsealed columns (not the subject)."""
    names = tuple(sorted(changes))
    statement = _TOUCH.get(names)
    if statement is None:
        statement = _TOUCH[names] = (
            update(Ticket.__table__)
            .where(_T.id == bindparam("ticket_id"))
            .values({name: bindparam(f"new_{name}", type_=_T[name].type) for name in names})
        )
    params = {f"new_{name}": value for name, value in changes.items()}
    session.execute(statement, {"ticket_id": ticket.id, **params})
    for name, value in changes.items():
        attributes.set_committed_value(ticket, name, value)


def get_ticket(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


_MESSAGE_ID = select(_MESSAGE.id).where(_MESSAGE.message_id == bindparam("message_id"))


def message_id_taken(session: Session, message_id: str) -> bool:
    return session.execute(_MESSAGE_ID, {"message_id": message_id}).first() is not None


def unique_message_id(session: Session, message_id: str, content_digest: str) -> str:
    """The mail's Message-ID, or one made from its content when that id is taken already (a
    client reusing ids): a stored message's id is unique."""
    if not message_id_taken(session, message_id):
        return message_id
    return f"<{content_digest[:32]}.reused@{message_id.strip('<>').rpartition('@')[2]}>"


def add_message(session: Session, **fields) -> Message:
    row = row_insert.insert_row(session, Message, **fields)
    if row.inbound_id is not None:
        session.info.setdefault(_INBOUND_MESSAGES, {}).setdefault(row.inbound_id, row)
    return row


def message_for_inbound(session: Session, inbound_id: int) -> Message | None:
    """The first message stored from this inbound row. A row's messages are stored only while
    it is processed, in this transaction, so the one `add_message` just wrote answers without
    reading it back (unless a rolled-back savepoint took it away)."""
    row = session.info.get(_INBOUND_MESSAGES, {}).get(inbound_id)
    if row is not None and inspect(row).persistent:
        return row
    query = select(Message).where(Message.inbound_id == inbound_id).order_by(col(Message.id))
    return session.exec(query).first()


_BLOB, _ATTACHMENT = Blob.__table__, Attachment.__table__
_BLOB_STORED = select(_BLOB.c.id).where(_BLOB.c.id == bindparam("blob_id"))
_INSERT_BLOB, _INSERT_ATTACHMENT = insert(_BLOB), insert(_ATTACHMENT)


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
    """The bytes once per owner and content, and the attachment naming them: plain
    statements, sealed on the way (ORM rows and their flush cost several times as much)."""
    conn, vault = session.connection(), sealing.vault_of(session)
    key_id = sealing.owner_key(
        session, conn, Attachment, SimpleNamespace(message_id=message_id), ""
    )
    blob_id = vault.blob_id(conn, key_id, data)
    if session.execute(_BLOB_STORED, {"blob_id": blob_id}).first() is None:
        sealed = sealing.sealed_blob(session, blob_id, key_id, data)
        session.execute(
            _INSERT_BLOB, {"id": blob_id, "key_id": key_id, "size": len(data), "data": sealed}
        )
    values = {
        "message_id": message_id, "blob_id": blob_id, "filename": filename,
        "content_type": content_type, "size": len(data), "content_id": content_id,
        "inline": inline,
    }  # fmt: skip
    session.execute(_INSERT_ATTACHMENT, sealing.sealed_values(session, Attachment, values))


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


def last_event_at(session: Session, kind: str, actor: str) -> datetime | None:
    query = select(func.max(Event.at)).where(Event.kind == kind, Event.actor == actor)
    return session.exec(query).first()


def count_events_since(session: Session, kind: str, since: datetime) -> int:
    query = select(func.count()).select_from(Event).where(Event.kind == kind, Event.at > since)
    return session.exec(query).one()


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


def list_tickets(
    session: Session,
    status: str | None,
    limit: int,
    requester_id: int | None = None,
    account_id: int | None = None,
) -> list[tuple[Ticket, str]]:
    query = (
        select(Ticket, Contact)
        .join(Contact, col(Contact.id) == col(Ticket.requester_id))
        .order_by(col(Ticket.id).desc())
        .limit(limit)
    )
    if status:
        query = query.where(Ticket.status == status)
    if requester_id is not None:
        query = query.where(Ticket.requester_id == requester_id)
    if account_id is not None:
        query = query.where(Ticket.account_id == account_id)
    return [(ticket, contact.email) for ticket, contact in session.exec(query).all()]


def count_tickets(session: Session, account_id: int) -> int:
    query = select(func.count()).select_from(Ticket).where(Ticket.account_id == account_id)
    return session.exec(query).one()


def earlier_tickets(session: Session, ticket: Ticket, limit: int) -> list[Ticket]:
    """The account's tickets opened before this one, latest first (merged ones left out)."""
    query = (
        select(Ticket)
        .where(Ticket.account_id == ticket.account_id, col(Ticket.id) < ticket.id)
        .where(col(Ticket.merged_into_id).is_(None))
        .order_by(col(Ticket.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))


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
