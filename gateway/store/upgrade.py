"""Bring a database made by an older version up to the models: create missing tables, add
missing columns and indexes, drop the indexes it retired, all in the caller's one transaction.

Data is only added to, never taken away: a column the models no longer have, a column of
another type, or a new NOT NULL column with no single default for the rows already there stops
start-up with `UpgradeRefused`, before anything is changed.
"""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

from pydantic_core import PydanticUndefined
from sqlalchemy import Column, Index, Table, and_, bindparam, literal, select, text, update
from sqlalchemy import inspect as reflect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import CompileError
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateColumn, CreateIndex
from sqlmodel import SQLModel

from gateway.store import sealing, tables

_LOCK_KEY = 0x6761746577617921  # PostgreSQL: one process at a time looks and changes
_BATCH = 500
_BACK = "or run the version that made this database"


class UpgradeRefused(Exception):
    """The database cannot be brought up to this version's models by adding to it."""


@dataclasses.dataclass(frozen=True)
class NewColumn:
    model: type[SQLModel]
    column: Column
    default: object  # what the rows already there hold (None: NULL)
    statement: str  # its ALTER TABLE, for this database

    @property
    def name(self) -> str:
        return f"{self.column.table.name}.{self.column.name}"

    @property
    def sealed(self) -> bool:
        return self.column.name in sealing.SEALED.get(self.model, ())


@dataclasses.dataclass(frozen=True)
class Plan:
    columns: list[NewColumn]
    indexes: list[Index]
    retired: list[str]  # index names


def upgrade(session: Session) -> list[str]:
    """Create what is missing and drop retired indexes in the session's transaction; what was
    done, one phrase a change."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":  # two processes starting at once: the second waits
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    plan = plan_upgrade(conn)
    SQLModel.metadata.create_all(conn, tables=[t.__table__ for t in tables.ALL_TABLES])
    for new in plan.columns:
        conn.exec_driver_sql(new.statement)
    for new in plan.columns:
        if new.sealed and new.default is not None:
            _seal_default(session, new)
    for index in plan.indexes:
        conn.execute(CreateIndex(index))
    for name in plan.retired:
        conn.exec_driver_sql(f"DROP INDEX {conn.dialect.identifier_preparer.quote(name)}")
    return (
        [f"added {new.name}" for new in plan.columns]
        + [f"added index {i.name}" for i in plan.indexes]
        + [f"dropped index {name}" for name in plan.retired]
    )


def plan_upgrade(conn: Connection) -> Plan:
    """What to add to the tables already there; UpgradeRefused naming every obstacle."""
    inspector = reflect(conn)
    existing = set(inspector.get_table_names())
    problems: list[str] = []
    columns: list[NewColumn] = []
    indexes: list[Index] = []
    retired: list[str] = []
    for model in tables.ALL_TABLES:
        table: Table = model.__table__
        if table.name not in existing:
            continue  # created whole
        found = {c["name"]: c for c in inspector.get_columns(table.name)}
        for name in sorted(found.keys() - table.columns.keys()):
            problems.append(f"{table.name}.{name} is in the database but not in this version: "
                            f"drop it by hand after a backup, {_BACK}")  # fmt: skip
        for column in table.columns:
            if column.name in found:
                problems += _type_change(column, found[column.name]["type"], conn.dialect)
            else:
                new, problem = _new_column(model, column, conn.dialect)
                columns += [new] if new else []
                problems += [problem] if problem else []
        have = {i["name"] for i in inspector.get_indexes(table.name)}
        indexes += sorted((i for i in table.indexes if i.name not in have), key=lambda i: i.name)
        retired += sorted(have.intersection(tables.RETIRED_INDEXES))
    if problems:
        raise UpgradeRefused("; ".join(problems))
    return Plan(columns, indexes, retired)


def _type_change(column: Column, found, dialect: Dialect) -> list[str]:
    want, have = _type_name(column.type, dialect), _type_name(found, dialect)
    if want == have:
        return []
    where = f"{column.table.name}.{column.name}"
    return [
        f"{where} is {have} in the database but {want} in this version: "
        f"convert it by hand after a backup, {_BACK}"
    ]


def _type_name(type_, dialect: Dialect) -> str:
    """The type as the dialect spells it, less what does not change what can be stored: the
    time zone flag (values are written as UTC either way) and, on SQLite, lengths."""
    try:
        name = type_.compile(dialect=dialect).upper()
    except CompileError:  # a type the reflection did not recognise
        name = str(type_).upper()
    name = re.sub(r" WITH(OUT)? TIME ZONE", "", name)
    return re.sub(r"\(.*\)", "", name) if dialect.name == "sqlite" else name


def _new_column(model: type[SQLModel], column: Column, dialect: Dialect):
    """The column to add with its statement, or why it cannot be added."""
    where = f"{column.table.name}.{column.name}"
    if column.unique or column.primary_key:
        return None, f"{where} is missing and unique: add it and its values by hand after a backup"
    field = model.model_fields.get(column.name)
    default = None if column.nullable or field is None else field.default
    if not column.nullable and (default in (None, PydanticUndefined) or column.foreign_keys):
        return None, (
            f"{where} is missing and NOT NULL with no single default for the rows already "
            "there: add it by hand with a value for each row, after a backup"
        )
    new = NewColumn(model, column, default, "")
    try:
        return dataclasses.replace(new, statement=_add_column(new, dialect)), None
    except CompileError:
        return None, (
            f"{where} is missing and its default {default!r} cannot be written in this "
            "database: add it by hand with a value for each row, after a backup"
        )


def _add_column(new: NewColumn, dialect: Dialect) -> str:
    """`ALTER TABLE ... ADD COLUMN` with the model's column, its foreign key and, when NOT NULL,
    the default the rows already there take (a sealed column's, empty, is then replaced by the
    default sealed in `_seal_default`)."""
    quote = dialect.identifier_preparer.quote
    spec = str(CreateColumn(new.column).compile(dialect=dialect))
    if new.default is not None:
        spec += f" DEFAULT {_literal(b'' if new.sealed else new.default, new.column, dialect)}"
    for key in new.column.foreign_keys:
        spec += f" REFERENCES {quote(key.column.table.name)} ({quote(key.column.name)})"
    return f"ALTER TABLE {quote(new.column.table.name)} ADD COLUMN {spec}"


def _literal(value, column: Column, dialect: Dialect) -> str:
    if isinstance(value, bytes):
        return f"X'{value.hex()}'" if dialect.name == "sqlite" else f"'\\x{value.hex()}'::bytea"
    bound = literal(value, type_=column.type)
    return str(bound.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _seal_default(session: Session, new: NewColumn) -> None:
    """Seal the default into each row already there, under the key the row's other values use,
    so it reads back as the default (an unsealed value would not open)."""
    conn, model, table, name = session.connection(), new.model, new.column.table, new.column.name
    plain = [c for c in table.columns if c.name not in sealing.SEALED[model]]
    rows = conn.execute(select(*plain)).all()
    if not rows:
        return
    vault, keys = sealing.vault_of(session), list(table.primary_key.columns)
    data = new.default if isinstance(new.default, bytes) else str(new.default).encode("utf-8")
    match = and_(*(c == bindparam(f"k_{c.name}") for c in keys))
    statement = update(table).where(match).values({name: bindparam("v_sealed")})
    for start in range(0, len(rows), _BATCH):
        batch = []
        for row in rows[start : start + _BATCH]:
            target = SimpleNamespace(**row._mapping)
            key = sealing.owner_key(session, conn, model, target, name)
            row_name = target.id if model is tables.Blob else target.row_key  # as sealing does
            sealed = vault.seal(conn, key, (table.name, name, row_name), data)
            batch.append({"v_sealed": sealed} | {f"k_{c.name}": row._mapping[c.name] for c in keys})
        conn.execute(statement, batch)
