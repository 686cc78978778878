"""Read back what one transaction wrote (for `gateway explain`'s rolled-back dry run)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from gateway.store.tables import Event, Inbound, Message, Outbox, Quarantine

WATCHED = {"event": Event, "message": Message, "outbox": Outbox, "quarantine": Quarantine}


def high_water(session: Session) -> dict[str, int]:
    return {
        name: session.exec(select(table.id).order_by(col(table.id).desc())).first() or 0
        for name, table in WATCHED.items()
    }


def rows_since(session: Session, marks: dict[str, int]) -> dict[str, list]:
    session.flush()
    return {
        name: list(session.exec(select(table).where(col(table.id) > marks[name])))
        for name, table in WATCHED.items()
    }


def add_inbound(session: Session, **fields) -> Inbound:
    row = Inbound(size=len(fields["raw"]), **fields)
    session.add(row)
    session.flush()
    return row
