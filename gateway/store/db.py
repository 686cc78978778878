"""Open the database durably and hand out sessions.

SQLite runs in WAL mode with `synchronous=FULL` (NORMAL may lose a commit on power loss, and a
250 promises the mail survives) and write transactions start with `BEGIN IMMEDIATE`, so two
writers queue instead of failing on a lock upgrade. PostgreSQL uses row locks with SKIP LOCKED.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import Session, SQLModel, create_engine

from gateway.store import tables

__all__ = ["Database", "StoreUnavailable", "schema_sql"]


class StoreUnavailable(Exception):
    """The database cannot be reached or written; the caller should ask for a retry."""


class Database:
    """One database: a writer engine and a reader engine (the same engine on PostgreSQL)."""

    def __init__(self, url: str, *, pool_size: int = 8, busy_timeout_ms: int = 30_000):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _make_parent(url)
            self.writer = self._sqlite_engine(url, True, busy_timeout_ms)
            self.reader = self._sqlite_engine(url, False, busy_timeout_ms)
        else:
            self.writer = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
            )
            self.reader = self.writer

    @staticmethod
    def _sqlite_engine(url: str, immediate: bool, busy_timeout_ms: int) -> Engine:
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=4,
            max_overflow=8,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def create_schema(self) -> None:
        SQLModel.metadata.create_all(self.writer, tables=[t.__table__ for t in tables.ALL_TABLES])

    def drop_schema(self) -> None:
        SQLModel.metadata.drop_all(self.writer, tables=[t.__table__ for t in tables.ALL_TABLES])

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction, committed on success; DB trouble becomes StoreUnavailable."""
        with (
            _unavailable_on_outage(),
            Session(self.writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        # Translated too: workers read first, and log an outage once, not a traceback a try.
        with _unavailable_on_outage(), Session(self.reader, expire_on_commit=False) as session:
            yield session

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        try:
            with self.reader.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as error:
            raise StoreUnavailable(str(error)) from error

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


@contextmanager
def _unavailable_on_outage() -> Iterator[None]:
    try:
        yield
    except (OperationalError, DBAPIError) as error:
        if isinstance(error, DBAPIError) and not _is_transient(error):
            raise
        raise StoreUnavailable(str(error.orig if hasattr(error, "orig") else error)) from error


def _is_transient(error: DBAPIError) -> bool:
    return bool(error.connection_invalidated) or isinstance(error, OperationalError)


def _make_parent(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def schema_sql() -> str:
    """The schema as PostgreSQL DDL, generated from the tables (kept in `schema.sql`)."""
    from sqlalchemy.dialects import postgresql

    dialect = postgresql.dialect()
    parts = ["-- Generated from gateway/store/tables.py by `gateway schema`; do not edit.\n"]
    for table in SQLModel.metadata.sorted_tables:
        parts.append(str(CreateTable(table).compile(dialect=dialect)).strip() + ";\n")
        for index in sorted(table.indexes, key=lambda i: i.name or ""):
            parts.append(str(CreateIndex(index).compile(dialect=dialect)).strip() + ";\n")
    return "\n".join(parts)
