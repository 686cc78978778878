"""What a transaction remembers in `session.info` (data keys, contacts, rows it found or
wrote) to spare queries. A rolled-back savepoint can take away what such a value names: a
ticket rolled back gives its id again (SQLite), and the next ticket with that id belongs to
someone else. So every remembered value is forgotten when a savepoint is rolled back."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

_NAMES: set[str] = set()


def remembered(name: str) -> str:
    """Register `name` as a `session.info` key to forget on a savepoint's rollback."""
    _NAMES.add(name)
    return name


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, rolled_back) -> None:
    if rolled_back.nested:  # the whole transaction: its session is closed with it
        for name in _NAMES:
            session.info.pop(name, None)
