"""New tickets and messages are written with one Core statement each, then attached to the
session as if just loaded: the ORM's flush of one new row cost more than its statement. Callers
still get the ORM row (they change it, and the session finds it by id without a query).
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import event, insert
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session

from gateway.store import sealing
from gateway.store.tables import Message, Ticket

_INSERTED = "rows-inserted"  # session.info: (savepoint or None, row) written by `insert_row`
_COLUMNS = {kind: [c.name for c in kind.__table__.columns if c.name != "id"]
            for kind in (Ticket, Message)}  # fmt: skip
_INSERT = {kind: insert(kind.__table__).returning(kind.__table__.c.id) for kind in _COLUMNS}
_Row = TypeVar("_Row", Ticket, Message)


def insert_row(session: Session, row: _Row) -> _Row:
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
