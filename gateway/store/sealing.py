"""Sealed columns are encrypted as rows are written and decrypted as they are loaded, so code
outside `gateway/store` reads and writes plain values and SQL never sees them.

Whose data key seals what (erasing a contact destroys their key and nothing else):
- a contact's name and address, the tickets they opened (subject), everything they wrote
  (messages, attachments, the raw mail once processed), and mail sent about their tickets
  (outbox): the contact's key;
- what staff wrote (a reply's or note's new text, their address, their attachments): the
  company key; the full text of staff mail, which quotes the customer, and its subject: the
  requester's key;
- a rating's comment: the key of the contact who rated;
- mail not yet processed and mail from unknown senders: the company key.
Only ORM rows are handled here; a bulk INSERT must pass its values through `sealed_values`
(`sealed_spool_values` for new mail written without a session).
"""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session, attributes
from sqlalchemy.orm.util import identity_key

from gateway.store.remembered import remembered
from gateway.store.tables import (
    Attachment,
    Blob,
    Contact,
    Inbound,
    Message,
    Outbox,
    Rating,
    Ticket,
    new_row_key,
)
from gateway.store.vault import Vault

SEALED: dict[type, tuple[str, ...]] = {
    Contact: ("email", "name"),
    Ticket: ("subject",),
    Message: ("subject", "body_text", "new_text", "author_email"),
    Attachment: ("filename", "content_id"),
    Blob: ("data",),
    Inbound: ("raw",),
    Outbox: ("raw",),
    Rating: ("comment",),
}
_BYTES = {"raw", "data"}
ERASED_TEXT = "[erased]"
ERASED_NAME = "erased contact"
ERASED_ADDRESS = "erased-contact@erased.invalid"  # RFC 2606: never delivered anywhere
_PLACEHOLDER = {(Contact, "name"): ERASED_NAME, (Contact, "email"): ERASED_ADDRESS}


def vault_of(session: Session) -> Vault:
    vault = session.info.get("vault")
    if vault is None:
        raise RuntimeError("this session has no vault: open it through Database with a key file")
    return vault


def email_index(session: Session, email: str, conn=None) -> str:
    """The lookup key of an address (lowercased) in `Contact.email_hmac`."""
    conn = conn if conn is not None else session.connection()
    return vault_of(session).index(conn, "email:" + email.strip().lower())


# Read once: `__tablename__` is a declared attribute, computed again on every access.
_TABLE_NAMES = {kind: kind.__tablename__ for kind in SEALED}


def _where(kind: type, target, column: str) -> tuple[str, str, str]:
    return (_TABLE_NAMES[kind], column, target.id if kind is Blob else target.row_key)


# Whose key --------------------------------------------------------------------------------


# Rows already in the session answer without a query (the processor has usually just loaded
# the ticket and its requester); otherwise one small query, remembered for the transaction.


_CONTACT_KEYS = remembered("contact_keys")  # session.info: contact id -> its data key
_TICKET_KEYS = remembered("ticket_keys")  # session.info: ticket id -> its requester's data key


def _loaded(session: Session, kind: type, row_id):
    return session.identity_map.get(identity_key(kind, row_id))


def _contact_key(session: Session, conn, contact_id: int | None) -> int:
    cache = session.info.setdefault(_CONTACT_KEYS, {})
    if contact_id not in cache:
        row = _loaded(session, Contact, contact_id)
        if row is not None and row.key_id is not None:
            cache[contact_id] = row.key_id
        else:
            query = select(Contact.key_id).where(Contact.id == contact_id)
            cache[contact_id] = conn.execute(query).scalar_one()
    return cache[contact_id]


def _ticket_key(session: Session, conn, ticket_id: int) -> int:
    cache = session.info.setdefault(_TICKET_KEYS, {})
    if ticket_id not in cache:
        row = _loaded(session, Ticket, ticket_id)
        if row is not None:
            requester = row.requester_id
        else:
            query = select(Ticket.requester_id).where(Ticket.id == ticket_id)
            requester = conn.execute(query).scalar_one()
        cache[ticket_id] = _contact_key(session, conn, requester)
    return cache[ticket_id]


def _message_author(session: Session, conn, message_id: int) -> int | None:
    row = _loaded(session, Message, message_id)  # usually the message just stored
    if row is not None and "author_contact_id" in row.__dict__:  # loaded, not expired
        return row.author_contact_id
    query = select(Message.author_contact_id).where(Message.id == message_id)
    return conn.execute(query).scalar_one()


def remember_contact_key(session: Session, contact_id: int, key_id: int | None) -> None:
    """Noted as a contact is read: its key never changes (erasure destroys the key, the id
    stays), and the row itself often leaves the session before what it owns is sealed (`repo`
    hands out `ContactInfo`, and the session holds rows only while they are referenced)."""
    if key_id is not None:
        session.info.setdefault(_CONTACT_KEYS, {})[contact_id] = key_id


def owner_key(session: Session, conn, kind: type, target, column: str) -> int:
    """The data key that seals `column` of `target`, a `kind` row (see the module's docstring);
    the company key when that one was destroyed (a receipt about an erased contact's ticket)."""
    key = _owner_key(session, conn, kind, target, column)
    vault = vault_of(session)
    return vault.fixed_key(conn, "company") if vault.is_destroyed(conn, key) else key


def _owner_key(session: Session, conn, kind: type, target, column: str) -> int:
    vault = vault_of(session)
    if kind is Contact or kind is Blob:
        return target.key_id
    if kind is Ticket:
        return _contact_key(session, conn, target.requester_id)
    if kind is Message:
        if target.author_contact_id:
            return _contact_key(session, conn, target.author_contact_id)
        if target.author_staff_id and column in ("new_text", "author_email"):
            return vault.fixed_key(conn, "company")
        return _ticket_key(session, conn, target.ticket_id)
    if kind is Attachment:
        author = _message_author(session, conn, target.message_id)
        return _contact_key(session, conn, author) if author else vault.fixed_key(conn, "company")
    if kind is Rating:
        return _contact_key(session, conn, target.contact_id)
    if kind is Inbound and target.contact_id:
        return _contact_key(session, conn, target.contact_id)
    if kind is Outbox and target.ticket_id:
        return _ticket_key(session, conn, target.ticket_id)
    return vault.fixed_key(conn, "company")


# Writing ----------------------------------------------------------------------------------


def _seal_columns(session: Session, conn, target, columns) -> dict:
    vault, plain = vault_of(session), {}
    for column in columns:
        value = target.__dict__.get(column)
        if value is None:
            value = b"" if column in _BYTES else ""
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        key = owner_key(session, conn, type(target), target, column)
        where = _where(type(target), target, column)
        attributes.set_attribute(target, column, vault.seal(conn, key, where, data))
        plain[column] = value
    return plain


def _before_insert(mapper, conn, target) -> None:
    session = inspect(target).session
    if not isinstance(target, Blob) and not target.row_key:
        target.row_key = new_row_key()
    if isinstance(target, Contact):
        if target.key_id is None:
            target.key_id = vault_of(session).new_data_key(conn, "contact")
        target.email_hmac = email_index(session, target.email, conn)
    plain = _seal_columns(session, conn, target, SEALED[type(target)])
    inspect(target).info["sealed_plain"] = plain


def _before_update(mapper, conn, target) -> None:
    state = inspect(target)
    # attributes.get_history, not `state.attrs[c].history`: `attrs` builds a view of every
    # attribute on each call, which cost more than the rest of an update.
    changed = [c for c in SEALED[type(target)] if attributes.get_history(target, c).has_changes()]
    if not changed:
        return
    if isinstance(target, Contact) and "email" in changed and target.erased_at is None:
        target.email_hmac = email_index(state.session, target.email, conn)
    state.info["sealed_plain"] = _seal_columns(state.session, conn, target, changed)


def _after_write(mapper, conn, target) -> None:
    """Put the plain values back, as if they had been written as they are."""
    for column, value in inspect(target).info.pop("sealed_plain", {}).items():
        attributes.set_committed_value(target, column, value)


_NO_VALUES = {table: {c.name: None for c in table.__table__.columns} for table in SEALED}


def sealed_values(session: Session, table: type, values: dict) -> dict:
    """A row's values for a Core INSERT, with a row key and its sealed columns sealed; for an
    UPDATE, pass the row's `row_key` and the new values of its sealed columns."""
    values = {**values, "row_key": values.get("row_key") or new_row_key()}
    target = SimpleNamespace(**(_NO_VALUES[table] | values))
    conn, vault = session.connection(), vault_of(session)
    for column in (c for c in SEALED[table] if c in values):
        key = owner_key(session, conn, table, target, column)
        values[column] = _seal_value(vault, conn, key, _where(table, target, column), values)
    return values


def sealed_blob(session: Session, blob_id: str, key_id: int, data: bytes) -> bytes:
    """A new `Blob` row's bytes for a Core INSERT, sealed under `key_id` (the owner's)."""
    conn = session.connection()
    return vault_of(session).seal(conn, key_id, (_TABLE_NAMES[Blob], "data", blob_id), data)


_SPOOL_TABLE = _TABLE_NAMES[Inbound]


def sealed_spool_values(vault: Vault | None, conn, values: dict) -> dict:
    """`sealed_values` for a new `Inbound` row, without a session: mail not yet processed has
    no owner but the company (the intake writes it on a bare connection, `Database.write_rows`)."""
    if vault is None:
        raise RuntimeError("this database has no vault: open it with a key file")
    if values.get("contact_id") is not None:
        raise ValueError("a spool row with a sender is sealed under their key: use sealed_values")
    values = {**values, "row_key": values.get("row_key") or new_row_key()}
    key = vault.fixed_key(conn, "company")
    for column in SEALED[Inbound]:
        where = (_SPOOL_TABLE, column, values["row_key"])
        values[column] = _seal_value(vault, conn, key, where, values)
    return values


def _seal_value(vault: Vault, conn, key: int, where: tuple[str, str, str], values: dict) -> bytes:
    data = values[where[1]]
    data = data if isinstance(data, bytes) else str(data).encode("utf-8")
    return vault.seal(conn, key, where, data)


# Reading ----------------------------------------------------------------------------------


def _open_columns(session: Session, target, columns) -> None:
    vault, conn, kind = vault_of(session), session.connection(), type(target)
    erased = False
    for column in columns:
        sealed = target.__dict__.get(column)
        if sealed is None:
            continue
        data = vault.open(conn, sealed, _where(kind, target, column))
        erased = erased or data is None
        attributes.set_committed_value(target, column, _plain(kind, column, data))
    if erased:
        inspect(target).info["erased"] = True


def opened(session: Session, kind: type, row_key: str, column: str, sealed: bytes | None):
    """One sealed value read with a plain statement, opened as a loaded row's would be (the
    placeholder when its key was destroyed)."""
    if sealed is None:
        return None
    where = (_TABLE_NAMES[kind], column, row_key)
    return _plain(kind, column, vault_of(session).open(session.connection(), sealed, where))


def _plain(kind: type, column: str, data: bytes | None):
    """An opened column's value: text or bytes, the placeholder when its key was destroyed."""
    if data is None:
        return b"" if column in _BYTES else _PLACEHOLDER.get((kind, column), ERASED_TEXT)
    return data if column in _BYTES else data.decode("utf-8")


def _on_load(target, context) -> None:
    if context is None:  # `merge(load=False)`: copied from a row that was opened when loaded
        return
    if type(target) is Contact:
        remember_contact_key(context.session, target.id, target.key_id)
    _open_columns(context.session, target, SEALED[type(target)])


def _on_refresh(target, context, attrs) -> None:
    columns = SEALED[type(target)]
    _open_columns(context.session, target, [c for c in columns if attrs is None or c in attrs])


def is_erased(row) -> bool:
    """Whether a loaded row holds values whose data key was destroyed."""
    return bool(inspect(row).info.get("erased"))


for _table in SEALED:
    event.listen(_table, "before_insert", _before_insert)
    event.listen(_table, "before_update", _before_update)
    event.listen(_table, "after_insert", _after_write)
    event.listen(_table, "after_update", _after_write)
    event.listen(_table, "load", _on_load)
    event.listen(_table, "refresh", _on_refresh)
