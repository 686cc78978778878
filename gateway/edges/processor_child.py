"""The processor in a child process of the listener, so that the two halves use two cores.

`gateway serve` listens for mail in its own process and runs `gateway serve --role processor`
as a child: each has its own interpreter lock, so parsing and deciding never hold up an SMTP
answer. After each commit the listener wakes the child with one byte on the child's stdin (a
full pipe is skipped: the child is awake already, and its poll catches up). The child stops
when its stdin closes, so it never outlives the listener; if it dies, it is started again
after a pause that grows while it keeps dying.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import threading
import time

log = logging.getLogger(__name__)

# The child runs at a lower CPU priority: a client waiting for its 250 must not queue for a
# core behind processing, which can fall a few seconds behind during a burst and catch up after
# it. On a machine with a core to spare this changes nothing.
NICENESS = 10
FIRST_PAUSE = 1.0
LONGEST_PAUSE = 60.0
STOP_SECONDS = 20.0


def lower_priority() -> None:
    """Called in the child before it starts its threads and its parser (which inherit it)."""
    with contextlib.suppress(OSError, AttributeError):  # not on every platform
        os.nice(NICENESS)


class ProcessorChild:
    def __init__(self, command: list[str]):
        self.command = command
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="processor-child", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._watcher.start()

    def _spawn(self) -> None:
        process = subprocess.Popen(self.command, stdin=subprocess.PIPE)
        os.set_blocking(process.stdin.fileno(), False)
        with self._lock:
            self.process = process
        log.info("processor started as process %s", process.pid)

    def wake(self) -> None:
        with self._lock:
            process = self.process
            if process is None or process.stdin is None or process.stdin.closed:
                return
            # A full pipe means it is awake already; a dead child is about to be started again.
            with contextlib.suppress(OSError):
                os.write(process.stdin.fileno(), b"w")

    def _watch(self) -> None:
        pause = FIRST_PAUSE
        while not self._stopping.is_set():
            with self._lock:
                process = self.process
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started > LONGEST_PAUSE:
                pause = FIRST_PAUSE  # it ran well for a while: this is a new trouble
            log.error("processor process %s exited with %s; starting it again in %.0f s",
                      process.pid, code, pause)  # fmt: skip
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, LONGEST_PAUSE)
            self._spawn()

    def stop(self) -> None:
        """Close the child's stdin (it finishes what it holds and exits), then wait."""
        self._stopping.set()
        with self._lock:
            process = self.process
            if process is None:
                return
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
