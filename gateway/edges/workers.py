"""Background threads that run a step whenever woken, and the scheduler that wakes them.

A worker runs its step until the step reports no more work, then sleeps until `wake()` (after
a commit that created work) or its sweep interval. Database outages are logged once per
outage, not once per attempt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import time

from apscheduler.schedulers.background import BackgroundScheduler

from gateway.errors import without_message
from gateway.store.db import StoreUnavailable

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, name: str, step: Callable[[], int], interval: float):
        self.name, self.step, self.interval = name, step, interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._outage = False
        self._busy = False

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=15)

    @property
    def busy(self) -> bool:
        """Whether a step is running or about to (for callers that wait for the work to end)."""
        return self._busy or self._wake.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self._busy = True
            try:
                self._drain()
            finally:
                self._busy = False

    def _drain(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.step()
            except StoreUnavailable as error:
                if not self._outage:
                    log.warning("%s: database unavailable, will retry: %s", self.name, error)
                self._outage = True
                return
            except Exception as error:
                log.error("%s: step failed: %s", self.name, without_message(error))
                return
            if self._outage:
                log.info("%s: database reachable again", self.name)
                self._outage = False
            if not done:
                return


def make_scheduler(jobs: list[tuple[str, Callable[[], None], int]]) -> BackgroundScheduler:
    """An APScheduler that only triggers; each job reads what is due from the database."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for job_id, func, seconds in jobs:
        scheduler.add_job(
            func, "interval", seconds=seconds, id=job_id, max_instances=1, coalesce=True
        )
    return scheduler


def add_weekly(
    scheduler: BackgroundScheduler,
    job_id: str,
    func: Callable[[], None],
    day: str,
    at: time,
    timezone: str,
) -> None:
    """Trigger `func` every week on `day` ("mon") at `at` in `timezone`; a run missed while
    the gateway was down is made up within six hours (the job itself knows what is due)."""
    scheduler.add_job(
        func, "cron", day_of_week=day, hour=at.hour, minute=at.minute, timezone=timezone,
        id=job_id, max_instances=1, coalesce=True, misfire_grace_time=6 * 3600,
    )  # fmt: skip
