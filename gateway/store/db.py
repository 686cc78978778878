"""Open the database durably and hand out sessions.

SQLite runs in WAL mode with `synchronous=FULL` (NORMAL may lose a commit on power loss, and a
250 promises the mail survives) and write transactions start with `BEGIN IMMEDIATE`, so two
writers queue instead of failing on a lock upgrade; our own writers queue before that
(`writer_turn.py`). PostgreSQL uses row locks with SKIP LOCKED.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import Session, SQLModel, create_engine

from gateway.store import mailflow, sealing, tables, upgrade  # noqa: F401 (sealing: hooks)
from gateway.store.upgrade import UpgradeRefused
from gateway.store.vault import Vault
from gateway.store.writer_turn import TurnTimeout, WriterTurn

__all__ = ["Database", "StoreUnavailable", "UpgradeRefused", "schema_sql"]
log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database cannot be reached or written; the caller should ask for a retry."""


class Database:
    """One database: a writer engine and a reader engine (the same engine on PostgreSQL)."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        busy_timeout_ms: int = 30_000,
        vault: Vault | None = None,
    ):
        self.url = url
        self.vault = vault  # seals personal data (store/sealing.py); None: nothing can be written
        self.is_sqlite = url.startswith("sqlite")
        self.secrets: dict[str, bytes] = {}  # installation secrets read (store/mailflow.py)
        self._turn = None
        if self.is_sqlite:
            self._turn = WriterTurn(_make_parent(url), busy_timeout_ms / 1000)
            self.writer = self._sqlite_engine(url, True, busy_timeout_ms)
            self.reader = self._sqlite_engine(url, False, busy_timeout_ms)
        else:
            self.writer = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                hide_parameters=True,
            )  # fmt: skip
            self.reader = self.writer

    @staticmethod
    def _sqlite_engine(url: str, immediate: bool, busy_timeout_ms: int) -> Engine:
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            pool_size=4,
            max_overflow=8,
            # A statement's values (addresses, names, mail) stay out of its errors, which
            # reach the log and the spool's error column (`gateway inbound list`).
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            # 32 MiB of pages, not 2: with the default the processor read about a dozen
            # pages a mail back from the file, one system call each
            cursor.execute("PRAGMA cache_size=-32768")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def create_schema(self) -> None:
        """Create missing tables, add the columns and indexes an older database lacks and drop
        the indexes it retired (store/upgrade.py), then the key file and data keys of a new
        database; one transaction. Raises UpgradeRefused, changing nothing, when adding is not
        enough."""
        with self.write() as session:
            changed = upgrade.upgrade(session)
            if self.vault is not None:
                self.vault.prepare(session.connection())
        for change in changed:
            log.info("database upgraded: %s", change)

    def _info(self) -> dict:
        return {"vault": self.vault, "secrets": self.secrets}

    def drop_schema(self) -> None:
        SQLModel.metadata.drop_all(self.writer, tables=[t.__table__ for t in tables.ALL_TABLES])

    @contextmanager
    def write(self, urgent: bool = False) -> Iterator[Session]:
        """A write transaction, committed on success; DB trouble becomes StoreUnavailable.

        An `urgent` writer (the intake, while SMTP clients wait for their 250) goes first on
        SQLite: the others end their transactions early and hold back while one waits."""
        with (
            _unavailable_on_outage(),
            self._writer_turn(urgent),
            Session(self.writer, expire_on_commit=False, info=self._info()) as session,
            session.begin(),
        ):
            yield session
        mailflow.remember_created(session)  # committed: the keys it made are safe to keep
        if session.info.get("rewrite_file") and self.is_sqlite:
            self._rewrite_file()

    @contextmanager
    def write_rows(self, urgent: bool = False) -> Iterator[Connection]:
        """Like `write`, on a bare connection: for statements that load no ORM rows (the
        intake's spool rows), whose session would cost more than the statements themselves."""
        with _unavailable_on_outage(), self._writer_turn(urgent), self.writer.begin() as conn:
            yield conn

    def _rewrite_file(self) -> None:
        """After an erasure: SQLite keeps old row versions in free pages and in the WAL, so an
        address scrubbed from a row could still be read in the file; VACUUM rewrites the file
        from live rows only and the checkpoint empties the WAL."""
        with _unavailable_on_outage(), self._writer_turn():
            connection = self.writer.raw_connection()
            try:
                connection.execute("VACUUM")
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                connection.close()

    @contextmanager
    def _writer_turn(self, urgent: bool = False) -> Iterator[None]:
        if self._turn is None:
            yield
            return
        try:
            with self._turn.taken(urgent):
                yield
        except TurnTimeout as error:
            raise StoreUnavailable(str(error)) from error

    def urgent_waiting(self) -> bool:
        """Whether an urgent writer waits for the write lock (a long transaction should end)."""
        return self._turn is not None and self._turn.urgent_waiting()

    def yield_to_urgent(self, limit: float = 0.05) -> None:
        """Hold back a non-urgent transaction while an urgent writer waits (up to `limit` s)."""
        if self._turn is not None:
            self._turn.yield_to_urgent(limit)

    @contextmanager
    def read(self) -> Iterator[Session]:
        # Translated too: workers read first, and log an outage once, not a traceback a try.
        reader = Session(self.reader, expire_on_commit=False, info=self._info())
        with _unavailable_on_outage(), reader as session:
            yield session

    def ping(self) -> None:
        """Raise StoreUnavailable unless the database answers."""
        try:
            with self.reader.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as error:
            raise StoreUnavailable(str(error)) from error

    def dispose(self) -> None:
        if self._turn is not None:
            self._turn.close()
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


def _make_parent(url: str) -> str | None:
    """The database file's path (None in memory), its folder created if missing."""
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return path


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
