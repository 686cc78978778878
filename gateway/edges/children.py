"""The child processes of `gateway serve`, so that its parts use more than one core.

`gateway serve` listens for mail in its own process and runs the processor (`gateway serve
--role processor`), the delivery (`--role delivery`) and any extra SMTP listeners (`--role
smtp`, `smtp.processes`) as children: each has its own interpreter lock. After each commit a
listener wakes the processor with one byte on the processor's stdin; an extra listener tells
its parent with one byte on its stdout, and the parent passes it on (so it reaches a processor
started again meanwhile); the processor tells it so when it has queued mail, and the parent
wakes the delivery. A full pipe is skipped: the reader is awake already, and the woken
process's poll catches up. A child stops when
its stdin closes, so it never outlives `gateway serve`; if it dies, it is started again after a
pause that grows while it keeps dying.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0
STOP_SECONDS = 20.0
# A child that exits cleanly, or on SIGTERM or SIGINT before its handlers were set, was
# stopped (a SIGTERM to every process of a service, say), maybe before `gateway serve` began
# to stop: only after this long is it one that stopped on its own, and started again.
CLEAN_EXIT_GRACE = 2.0
_STOPPED = (0, -signal.SIGTERM, -signal.SIGINT)


def nudge(fd: int) -> None:
    """One byte on a non-blocking pipe; a full pipe (the reader is awake already) or a closed
    one (the reader is gone, or about to be started again) is skipped."""
    with contextlib.suppress(OSError):
        os.write(fd, b"w")


class Parent:
    """A child's side of its stdout: a byte after each commit (an extra listener) or after
    queuing mail (the processor) tells `gateway serve`, which wakes the processor or the
    delivery."""

    def __init__(self, fd: int = 1):
        self.fd = fd
        os.set_blocking(fd, False)

    def wake(self) -> None:
        nudge(self.fd)


class Child:
    """One child process, kept running: `on_output` is called for what it writes to stdout."""

    def __init__(self, name: str, command: list[str], on_output: Callable[[], None] | None = None):
        self.name, self.command, self.on_output = name, command, on_output
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name=f"{name}-child", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def _spawn(self) -> bool:
        with self._lock:  # not once `close` has run: nothing would ever close its stdin
            if self._stopping.is_set():
                return False
            stdout = subprocess.PIPE if self.on_output else None
            # A process group of its own: a Ctrl-C in the terminal reaches `gateway serve`
            # alone, which stops the child by closing its stdin, once it has let go.
            process = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=stdout, process_group=0
            )
            os.set_blocking(process.stdin.fileno(), False)
            self.process = process
        log.info("%s started as process %s", self.name, process.pid)
        return True

    def wake(self) -> None:
        with self._lock:
            process = self.process
            if process is None or process.stdin is None or process.stdin.closed:
                return
            nudge(process.stdin.fileno())

    def _watch(self) -> None:
        pause = FIRST_PAUSE
        while not self._stopping.is_set():
            with self._lock:
                process = self.process
            started = time.monotonic()
            if process.stdout is not None:
                self._read(process.stdout)
            code = process.wait()
            if self._stopping.is_set():
                return
            if code in _STOPPED and self._stopping.wait(CLEAN_EXIT_GRACE):
                return  # a stop sent to every process reached it first
            if time.monotonic() - started > LONGEST_PAUSE:
                pause = FIRST_PAUSE  # it ran well for a while: this is a new trouble
            log.error("%s process %s exited with %s; starting it again in %.0f s",
                      self.name, process.pid, code, pause)  # fmt: skip
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, LONGEST_PAUSE)
            if not self._spawn():
                return

    def _read(self, stdout) -> None:
        """Until the child exits (its stdout closes); a read gathers all bytes written since
        the last one, so a burst of commits costs one call."""
        with stdout:
            while os.read(stdout.fileno(), 4096):
                self.on_output()

    def close(self) -> None:
        """Close the child's stdin: it finishes what it holds and exits."""
        self._stopping.set()
        with self._lock:
            process = self.process
            if process is not None and process.stdin is not None:
                process.stdin.close()

    def stop(self) -> None:
        """Close the child's stdin, then wait for it to exit."""
        self.close()
        with self._lock:
            process = self.process
        if process is None:
            return
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
