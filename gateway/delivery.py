"""Delivery: claim due outbox rows, send them, record each outcome, retry with backoff.

Runs outside any transaction of the change that queued the mail (`outbox.enqueue`), and
retries temporary failures with exponential backoff and jitter (about 5 minutes growing to an
hour), giving up after the configured lifetime; automatic mail lives a day.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from gateway.core import bounces
from gateway.errors import PermanentFailure, TemporaryFailure, without_message
from gateway.store import mailflow, outbox_rows, repo
from gateway.store.db import Database
from gateway.store.tables import Outbox

log = logging.getLogger(__name__)


class MailSender(Protocol):
    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes) -> None:
        """Deliver or raise TemporaryFailure / PermanentFailure."""

    def settle(self) -> None:
        """Make what `send` took durable before it is recorded as sent, or raise
        TemporaryFailure."""

    def close(self) -> None:
        """End a delivery round: let go of what was held for it (a connection)."""


@dataclass(frozen=True)
class RetryPolicy:
    first_retry: timedelta = timedelta(minutes=5)
    max_retry: timedelta = timedelta(minutes=60)
    lifetime: timedelta = timedelta(days=5)
    # Automatic mail (a confirmation, a notice) a day late says what is no longer true; a
    # person's reply is still worth its five days (RFC 5321 4.5.4.1 allows notices less).
    automatic_lifetime: timedelta = timedelta(days=1)

    def lifetime_of(self, automatic: bool) -> timedelta:
        return min(self.automatic_lifetime, self.lifetime) if automatic else self.lifetime

    def next_attempt(self, attempts: int, now: datetime, rng: random.Random) -> datetime:
        # The doubling stops long before a timedelta overflows (about 40 doublings of five
        # minutes): a mail retried for days must still get its next time, and its end.
        doublings = min(max(0, attempts - 1), 30)
        delay = min(self.first_retry * (2**doublings), self.max_retry)
        return now + delay * rng.uniform(0.8, 1.2)


# Delivery outcomes are recorded together, at most this long after the first of them: one
# transaction per mail cost more than writing the mail into a Maildir, and a crash in between
# only sends those few mails again once their lease ends (delivery is at least once anyway).
RECORD_EVERY_SECONDS = 0.05


@dataclass(frozen=True)
class _Outcome:
    outbox_id: int
    lifetime_from: datetime  # when it was queued, or put back by hand
    temporary: str = ""
    permanent: str = ""


class Delivery:
    """Claims due outbox rows and hands them to the configured sender."""

    def __init__(
        self,
        db: Database,
        sender: MailSender,
        clock: Callable[[], datetime],
        retry: RetryPolicy,
        batch_size: int = 50,
        rng: random.Random | None = None,
        on_given_up: Callable[[object, Outbox, str, datetime], object] | None = None,
    ):
        self.db, self.sender, self.clock, self.retry = db, sender, clock, retry
        self.batch_size = batch_size
        self.rng = rng or random.Random()
        # Called in the transaction that parks a row for good (`delivery_alerts.py`).
        self.on_given_up = on_given_up

    def run_once(self) -> int:
        """Send what is due now; returns how many rows were attempted."""
        with self.db.read() as session:  # a poll finding nothing takes no write lock
            if not outbox_rows.any_due(session, self.clock()):
                return 0
        self.db.yield_to_urgent()
        with self.db.write() as session:
            rows = outbox_rows.claim_due(session, self.clock(), self.batch_size)
            key = mailflow.installation_secret(session, "verp") if rows else b""
            claimed = [
                (row.id, bounces.return_path(row.mail_from, row.id, key),
                 json.loads(row.rcpt_to), row.raw, row.retried_at or row.created_at)
                for row in rows
            ]  # fmt: skip
        try:
            self._deliver_all(claimed)
        finally:
            self.sender.close()
        return len(claimed)

    def _deliver_all(self, claimed: list[tuple]) -> None:
        outcomes: list[_Outcome] = []
        recorded_at = time.monotonic()
        for outbox_id, mail_from, rcpts, raw, lifetime_from in claimed:
            outcomes.append(self._deliver(outbox_id, mail_from, rcpts, raw, lifetime_from))
            if time.monotonic() - recorded_at >= RECORD_EVERY_SECONDS:
                self._record(self._settled(outcomes))
                outcomes, recorded_at = [], time.monotonic()
        self._record(self._settled(outcomes))

    def _deliver(self, outbox_id, mail_from, rcpts, raw, lifetime_from) -> _Outcome:
        try:
            self.sender.send(mail_from, rcpts, raw)
        except TemporaryFailure as error:
            return _Outcome(outbox_id, lifetime_from, temporary=str(error))
        except PermanentFailure as error:
            return _Outcome(outbox_id, lifetime_from, permanent=str(error))
        except Exception as error:  # an unexpected sender bug must not lose the row
            log.error("delivery of outbox row %s failed unexpectedly: %s", outbox_id,
                      without_message(error))  # fmt: skip
            return _Outcome(outbox_id, lifetime_from, temporary=f"{type(error).__name__}: {error}")
        return _Outcome(outbox_id, lifetime_from)

    def _settled(self, outcomes: list[_Outcome]) -> list[_Outcome]:
        """The outcomes once the sender made its part durable: if it could not, what it took
        is a temporary failure, sent again later."""
        try:
            self.sender.settle()
        except TemporaryFailure as error:
            return [
                o if o.temporary or o.permanent else replace(o, temporary=str(error))
                for o in outcomes
            ]
        return outcomes

    def _record(self, outcomes: list[_Outcome]) -> None:
        """Mark the sent rows in one statement; failures one by one (they are rare)."""
        if not outcomes:
            return
        now = self.clock()
        self.db.yield_to_urgent()
        with self.db.write() as session:
            sent = [o.outbox_id for o in outcomes if not o.temporary and not o.permanent]
            outbox_rows.mark_sent(session, sent, now)
            for outcome in outcomes:
                if outcome.temporary or outcome.permanent:
                    self._record_failure(session, outcome, now)

    def _record_failure(self, session, outcome: _Outcome, now: datetime) -> None:
        row = outbox_rows.get(session, outcome.outbox_id)
        if row is None:
            return
        temporary, permanent = outcome.temporary, outcome.permanent
        if temporary and now - outcome.lifetime_from < self.retry.lifetime_of(row.automatic):
            row.last_error = temporary
            row.next_attempt_at = self.retry.next_attempt(row.attempts, now, self.rng)
        else:
            reason = permanent or f"gave up after {row.attempts} attempts: {temporary}"
            row.status, row.last_error = "failed", reason
            repo.add_event(
                session,
                now,
                "delivery-failed",
                ticket_id=row.ticket_id,
                detail={"outbox_id": row.id, "to": json.loads(row.rcpt_to), "error": reason},
            )
            if self.on_given_up is not None:
                self._tell_given_up(session, row, reason, now)
        session.add(row)

    def _tell_given_up(self, session, row, reason: str, now: datetime) -> None:
        """The alert is a savepoint of its own: failing, it must not take the round's
        recorded outcomes with it (their mail would be sent again)."""
        try:
            with session.begin_nested():
                self.on_given_up(session, row, reason, now)
        except Exception as error:
            log.error("outbox row %s: the staff could not be told it was given up: %s", row.id,
                      without_message(error))  # fmt: skip
