"""Writers of one SQLite file take turns: in arrival order within a process, through a file
lock between processes, urgent writers (SMTP clients waiting for their 250) first.
"""

from __future__ import annotations

import collections
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class TurnTimeout(Exception):
    """The writers ahead held the turn longer than the timeout."""


_LOCK_FILES = {"writer-lock": "writer-lock", "urgent-waiting": "urgent", "urgent-probe": "urgent"}


class WriterTurn:
    """Writers of one SQLite file take turns here rather than in SQLite's busy handler.

    That handler sleeps 1, 2, 5, 10 ... up to 100 ms between attempts, so a writer that just
    missed the lock waits far longer than the transaction ahead of it, and an SMTP client waits
    for its 250 with it. Here threads of one process queue in order and the next one is handed
    the turn at once; processes sharing the file (the processes of `gateway serve`) queue on a
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
            raise TurnTimeout("database is locked: other writers held it too long")
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
