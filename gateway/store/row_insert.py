"""New tickets and messages are written with one Core statement each, then attached to the
session as if just loaded: the ORM's flush of one new row cost more than its statement, and
building the row through the model's constructor (which sets each field through the ORM's
instrumentation) cost nearly as much again. Callers still get the ORM row (they change it,
and the session finds it by id without a query).
"""

from __future__ import annotations

from typing import TypeVar

from pydantic_core import PydanticUndefined
from sqlalchemy import event, insert
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.base import manager_of_class
from sqlmodel import Session

from gateway.store import sealing
from gateway.store.tables import Message, Ticket

_INSERTED = "rows-inserted"  # session.info: (savepoint or None, row) written by `insert_row`
_KINDS = (Ticket, Message)
_COLUMNS = {kind: [c.name for c in kind.__table__.columns if c.name != "id"] for kind in _KINDS}
_INSERT = {kind: insert(kind.__table__).returning(kind.__table__.c.id) for kind in _KINDS}


def _field_defaults(kind: type) -> tuple[dict, dict]:
    """A model's column defaults: (fixed values, factories called for each new row)."""
    fixed, factories = {}, {}
    for name, field in kind.model_fields.items():
        if name not in _COLUMNS[kind]:
            continue
        if field.default_factory is not None:
            factories[name] = field.default_factory
        elif field.default is not PydanticUndefined:
            fixed[name] = field.default
    return fixed, factories


_DEFAULTS = {kind: _field_defaults(kind) for kind in _KINDS}
_Row = TypeVar("_Row", Ticket, Message)


def insert_row(session: Session, kind: type[_Row], **fields) -> _Row:
    """Write a new `kind` row sealed, as a flush would, and attach it to the session as if
    loaded: its fields are the model's defaults with `fields` over them."""
    fixed, factories = _DEFAULTS[kind]
    values = {**fixed, **fields}
    for name, factory in factories.items():
        if name not in values:
            values[name] = factory()
    unknown = values.keys() - _COLUMNS[kind]
    if unknown:
        raise TypeError(f"{kind.__name__} has no column {', '.join(sorted(unknown))}")
    sealed = sealing.sealed_values(session, kind, values)
    row = manager_of_class(kind).new_instance()  # as the ORM makes a row it loads
    row.__dict__.update(values, row_key=sealed["row_key"])
    row.__dict__["id"] = session.execute(_INSERT[kind], sealed).scalar_one()
    make_transient_to_detached(row)  # its values are the stored ones, plain
    session.add(row)
    session.info.setdefault(_INSERTED, []).append((session.get_nested_transaction(), row))
    return row


@event.listens_for(Session, "after_soft_rollback")
def _forget_inserted(session: Session, rolled_back) -> None:
    """A rolled-back savepoint takes away the rows `insert_row` wrote in it; the ORM forgets only
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
