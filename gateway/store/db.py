"""Open the database durably and hand out sessions.

SQLite runs in WAL mode with `synchronous=FULL` (NORMAL may lose a commit on power loss, and a
250 promises the mail survives) and write transactions start with `BEGIN IMMEDIATE`, so two
writers queue instead of failing on a lock upgrade; our own writers queue before that, in
`WriterTurn`. PostgreSQL uses row locks with SKIP LOCKED.
"""

from __future__ import annotations

import collections
import fcntl
import logging
import os
import threading
import time
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
        with self._turn.taken(urgent):
            yield

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


_LOCK_FILES = {"writer-lock": "writer-lock", "urgent-waiting": "urgent", "urgent-probe": "urgent"}


class WriterTurn:
    """Writers of one SQLite file take turns here rather than in SQLite's busy handler.

    That handler sleeps 1, 2, 5, 10 ... up to 100 ms between attempts, so a writer that just
    missed the lock waits far longer than the transaction ahead of it, and an SMTP client waits
    for its 250 with it. Here threads of one process queue in order and the next one is handed
    the turn at once; processes sharing the file (listener and processor run apart) queue on a
    file lock, which the kernel hands on as soon as it is released (or its holder dies). An
    urgent writer goes to the head of the queue and, while it waits, holds a shared lock on a
    second file, so that writers in other processes can see it and step aside.
    """

    def __init__(self, database_path: str | None, timeout: float):
        self._queue = _FifoLock()
        self._path = database_path
        self._timeout = timeout
        self._fds: dict[str, int] = {}
        self._pid = 0
        self._files_mutex = threading.Lock()
        self._urgent_mutex = threading.Lock()
        self._urgent_waiters = 0

    @contextmanager
    def taken(self, urgent: bool = False) -> Iterator[None]:
        if urgent:
            self._announce(+1)
        try:
            fd = self._take(urgent)
        finally:
            if urgent:
                self._announce(-1)
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
            self._queue.release()

    def _take(self, urgent: bool) -> int | None:
        if not self._queue.acquire(self._timeout, urgent):
            raise StoreUnavailable("database is locked: other writers held it too long")
        try:
            fd = self._file("writer-lock")
            if fd is not None:
                # Blocking without a timeout: the holder is one of our transactions, which
                # SQLite's own busy timeout already bounds.
                fcntl.flock(fd, fcntl.LOCK_EX)
            return fd
        except BaseException:
            self._queue.release()
            raise

    def _announce(self, change: int) -> None:
        with self._urgent_mutex:
            self._urgent_waiters += change
            fd = self._file("urgent-waiting")
            if fd is not None and self._urgent_waiters == (1 if change > 0 else 0):
                fcntl.flock(fd, fcntl.LOCK_SH if change > 0 else fcntl.LOCK_UN)

    def urgent_waiting(self) -> bool:
        if self._urgent_waiters:
            return True
        fd = self._file("urgent-probe")
        if fd is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False

    def yield_to_urgent(self, limit: float) -> None:
        deadline = time.monotonic() + limit
        while self.urgent_waiting() and time.monotonic() < deadline:
            time.sleep(0.0002)

    def _file(self, purpose: str) -> int | None:
        """Our descriptor for this purpose (None in memory): the writer lock, or the urgent
        file, opened twice so that announcing and probing are separate locks."""
        if self._path is None:
            return None
        with self._files_mutex:
            if self._pid != os.getpid():  # a forked child opens its own: shared ones share locks
                self._fds, self._pid = {}, os.getpid()
            if not self._fds:
                for name, suffix in _LOCK_FILES.items():
                    path = f"{self._path}-{suffix}"
                    self._fds[name] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            return self._fds[purpose]

    def close(self) -> None:
        if self._pid == os.getpid():
            for fd in self._fds.values():
                os.close(fd)
        self._fds = {}


class _FifoLock:
    """A lock handed to its waiters in arrival order (urgent ones first): a thread that releases
    it and asks again at once (the processor between two transactions) cannot overtake one
    already waiting."""

    def __init__(self):
        self._mutex = threading.Lock()
        self._waiters: collections.deque[threading.Lock] = collections.deque()
        self._held = False

    def acquire(self, timeout: float, urgent: bool = False) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            baton = threading.Lock()
            baton.acquire()
            if urgent:
                self._waiters.appendleft(baton)
            else:
                self._waiters.append(baton)
        if baton.acquire(timeout=timeout):
            return True
        with self._mutex:
            if baton in self._waiters:
                self._waiters.remove(baton)
                return False
        return True  # handed over just as the wait ran out: ours after all

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # stays held, now by that waiter
            else:
                self._held = False


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
