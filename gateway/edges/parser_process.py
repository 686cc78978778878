"""Parse mail in a child process with a deadline and a memory cap.

Python's email parser has had inputs that loop or balloon (bpo-37461, gh-136063, bpo-31449);
one such message must not stall or kill the processor. The child is started once and reused;
when a message runs past the deadline or the memory cap, the child is killed and replaced, and
the message is refused with the reason (the caller holds it in quarantine).
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable

from gateway.core.parse import parse
from gateway.errors import ParseRefused

log = logging.getLogger(__name__)


def _serve(connection, memory_bytes: int, read: Callable) -> None:
    """The child's loop: read what arrives, answer ("ok", result) or (kind, message)."""
    import resource

    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            raw, message_id = connection.recv()
        except (EOFError, OSError):
            return
        except MemoryError:  # even receiving the bytes did not fit
            connection.send(("memory", "the message needs more memory than allowed"))
            continue
        try:
            connection.send(("ok", read(raw, message_id)))
        except MemoryError:
            connection.send(("memory", "the message needs more memory than allowed"))
        except Exception as error:  # a parser bug: reported, the child lives on
            connection.send(("error", f"{type(error).__name__}: {error}"))


class ParserProcess:
    """A callable `read(raw, message_id)` backed by one child process: by default the parse
    (`core.parse.parse`); `read` is any module-level function of the same arguments."""

    def __init__(self, timeout_seconds: float = 5.0, memory_mb: int = 1024, read: Callable = parse):
        self.timeout, self.memory_bytes = timeout_seconds, memory_mb * 1024 * 1024
        self.read = read
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        self._lock = threading.Lock()
        self._process = None
        self._connection = None

    def __call__(self, raw: bytes, message_id: str):
        with self._lock:
            self._ensure()
            try:
                self._connection.send((raw, message_id))
                if not self._connection.poll(self.timeout):
                    self._restart()
                    raise ParseRefused(
                        "parse-timeout", f"parsing took longer than {self.timeout:g} seconds"
                    )
                status, value = self._connection.recv()
            except (EOFError, OSError, BrokenPipeError) as error:
                self._restart()
                raise ParseRefused("parse-crashed", f"the parser process died: {error}") from None
        if status == "ok":
            return value
        if status == "memory":
            self._restart_locked()
            raise ParseRefused("parse-memory", value)
        raise ValueError(value)

    def start(self) -> None:
        """Start the child now, so the first message does not wait for it."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> None:
        if self._process is not None and self._process.is_alive():
            return
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve,
            args=(child, self.memory_bytes, self.read),
            name="mail-parser",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._connection = parent

    def _restart(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.join(timeout=5)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None

    def _restart_locked(self) -> None:
        with self._lock:
            self._restart()

    def close(self) -> None:
        with self._lock:
            self._restart()
