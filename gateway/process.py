"""Inbound row -> core decision -> tickets, messages, events and outbox rows, atomically.

Parsing happens before the write transaction so the database lock is held only while the
decision is applied; a thread has the parser process parse a batch's mails one by one while
the processor applies those before them. A transaction applies its messages without a
savepoint each (a savepoint and its release cost about a seventh of the CPU a message takes);
when one fails, the whole transaction is rolled back and its messages applied again, each
inside its own savepoint, so the failure rolls back that message alone and parks its inbound
row as `failed` with the error (raw bytes kept, so `gateway inbound retry` can replay it).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from gateway import card_guard, privacy_requests
from gateway.approvals import ApprovalDesk
from gateway.bounce_desk import BounceDesk
from gateway.core import border, limits, quotes, sla
from gateway.core.model import Envelope, ParsedMail, Policy, Verdict
from gateway.core.reading import Reading, read_mail
from gateway.customer_desk import CustomerDesk
from gateway.dispatch import Dispatcher, envelope_of
from gateway.errors import ParseRefused
from gateway.notices import Notices
from gateway.sender_auth import Authenticator
from gateway.staff_desk import StaffDesk
from gateway.staff_notices import StaffNotices
from gateway.store import spool
from gateway.store.db import Database
from gateway.store.tables import Inbound

log = logging.getLogger(__name__)
# How long one write transaction may go on applying messages before it commits. SQLite has one
# writer at a time and the listener needs that lock before each 250, so a whole batch in one
# transaction would keep SMTP clients waiting; but a listener that waits says so (the urgent
# flag), and the transaction ends after the message in hand. A message takes 10-20 ms, so at
# 10 ms each got its own commit; at 50 ms a quiet listener lets several share one (about 3 ms
# of CPU a message less, `scripts/measure-statements`).
TRANSACTION_SECONDS = 0.05


@dataclass(frozen=True)
class Settings:
    support_address: str
    complaints_address: str
    domain: str
    tag: str
    policy: Policy
    batch_size: int = 64
    default_department: str = ""
    routes: tuple[tuple[str, str], ...] = ()  # (address, department) for new tickets
    keyword_routes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (department, subject words)
    calendars: sla.Calendars = sla.Calendars()  # each department's opening hours
    mail_limits: limits.MailLimits = limits.MailLimits()
    own_domains: tuple[str, ...] = ()  # the domains mail to the gateway is addressed to
    urgent_minutes: int = 15  # how soon an urgent ticket's customer is answered


@dataclass(frozen=True)
class _Work:
    inbound_id: int
    mail: ParsedMail | None
    error: str | None
    verdict: Verdict = Verdict()
    refused: ParseRefused | None = None
    message_id_reused: bool = False  # an earlier inbound row carried the same Message-ID
    reading: Reading | None = None  # what the parser's process found (card numbers masked)


_Pending = tuple[int, Future[_Work]]  # a spool row's id and its reading, maybe still running


class Processor:
    def __init__(
        self,
        db: Database,
        notices: Notices,
        staff_notices: StaffNotices,
        staff_desk: StaffDesk,
        settings: Settings,
        clock: Callable[[], datetime],
        bounce_desk: BounceDesk,
        reader: Callable[[bytes, str], Reading] = read_mail,
        authenticator: Authenticator | None = None,
        approvals: ApprovalDesk | None = None,
    ):
        self.db, self.notices, self.settings, self.clock = db, notices, settings, clock
        self.staff_notices, self.reader = staff_notices, reader
        self.authenticator = authenticator or Authenticator("trusted-headers", (), None)
        customers = CustomerDesk(notices, staff_notices, settings)
        self.dispatcher = Dispatcher(settings, bounce_desk, staff_desk, customers, approvals)
        # Called before each write transaction: `gateway serve`'s processor child waits there
        # while the listener takes a burst of mail (edges/pacing.py).
        self.give_way: Callable[[], object] = lambda: None

    def run_once(self) -> tuple[int, int]:
        """Process a batch of pending rows; returns (processed, mails queued)."""
        with self.db.read() as session:
            rows = spool.pending_inbound(session, self.settings.batch_size)
            reused = spool.reused_message_ids(session, rows)
            pending = [(row.id, row.raw, row.message_id, envelope_of(row)) for row in rows]
        if not pending:
            return 0, 0
        # Parsed and verified in a thread of their own, before the write transaction (DNS
        # lookups must not hold the lock) and while the mails before them are applied: the
        # thread mostly waits for the parser process, in order, one mail at a time.
        with ThreadPoolExecutor(1, "parse-ahead") as ahead:
            work = [(item[0], ahead.submit(self._prepare, *item, item[0] in reused))
                    for item in pending]  # fmt: skip
            work.reverse()
            try:
                return self._apply_all(work, {row.id: row for row in rows})
            finally:
                for _, future in work:  # a failed batch need not wait for the rest to parse
                    future.cancel()

    def _prepare(self, inbound_id: int, raw: bytes, message_id: str, envelope: Envelope,
                 reused: bool) -> _Work:  # fmt: skip
        item = self._authenticate(self._parse(inbound_id, raw, message_id), raw, envelope)
        return replace(item, message_id_reused=reused)

    def _apply_all(self, work: list[_Pending], rows: dict[int, Inbound]) -> tuple[int, int]:
        """Apply the parsed mails, last of `work` first, in short write transactions; `rows`
        are their spool rows as read before (detached, taken into each transaction)."""
        processed = queued = 0
        while work:  # short transactions: on SQLite the listener waits for the lock to say 250
            futures.wait([work[-1][1]])  # parsed and verified before the lock is taken
            self.give_way()
            self.db.yield_to_urgent()
            taken: list[_Pending] = []
            try:
                with self.db.write() as session:
                    done = self._apply_some(session, work, taken, rows, careful=False)
            except _Redo as redo:
                log.info("a message failed (%s): its transaction is applied again, one "
                         "savepoint a message", type(redo.__cause__).__name__)  # fmt: skip
                work.extend(reversed(taken))
                self.db.yield_to_urgent()
                with self.db.write() as session:
                    done = self._apply_some(session, work, [], rows, careful=True, limit=len(taken))
            processed, queued = processed + done[0], queued + done[1]
        return processed, queued

    def _apply_some(self, session, work: list[_Pending], taken: list[_Pending],
                    rows: dict[int, Inbound], careful: bool,
                    limit: int | None = None) -> tuple[int, int]:  # fmt: skip
        """Apply items from the end of `work` (noted in `taken`) until the transaction has run
        long enough, an urgent writer waits or `limit` items were taken; (processed, queued).
        Not `careful`: a failure raises `_Redo`, and the caller rolls the transaction back."""
        deadline = time.monotonic() + TRANSACTION_SECONDS
        processed = queued = 0
        # The spool rows this transaction may apply, checked (and on PostgreSQL held) in one
        # statement, parsed yet or not: a row's status does not depend on its reading.
        held = spool.lock_all_pending_inbound(session, [i for i, _ in reversed(work)][:limit])
        while work and (limit is None or len(taken) < limit):
            if taken and not work[-1][1].done():
                break  # a parse or a DNS lookup still running must not hold the write lock
            taken.append(work.pop())
            inbound_id, future = taken[-1]
            item = future.result()  # parsed while the mails before it were applied
            # Not held: another processor took it, or it was done meanwhile.
            row = spool.take_inbound(session, rows[inbound_id]) if inbound_id in held else None
            if row is not None:
                processed += 1
                queued += self._apply_one(session, row, item, careful)
            if time.monotonic() >= deadline or self.db.urgent_waiting():
                break
        if not careful:
            _redo_on_failure(session.flush)  # what the last message left pending, here
        return processed, queued

    def _parse(self, inbound_id: int, raw: bytes, message_id: str) -> _Work:
        try:
            reading = self.reader(raw, message_id)
            return _Work(inbound_id, reading.mail, None, reading=reading)
        except ParseRefused as refused:
            log.warning("inbound %s held: %s", inbound_id, refused)
            return _Work(inbound_id, None, str(refused), refused=refused)
        except Exception as error:
            log.warning("inbound %s could not be parsed: %s", inbound_id, type(error).__name__)
            return _Work(inbound_id, None, f"parse failed: {type(error).__name__}: {error}")

    def _authenticate(self, item: _Work, raw: bytes, envelope: Envelope) -> _Work:
        """Keep only our border's Authentication-Results, then the sender verdict."""
        if item.mail is None:
            return item
        authenticator = self.authenticator
        trusted = authenticator.trusted_ids if authenticator.mode == "trusted-headers" else ()
        mail = border.keep_trusted_results(item.mail, trusted)
        try:
            verdict = authenticator.verdict(raw, mail, envelope)
        except Exception as error:  # a checker bug must not park the mail: unverified
            log.warning("inbound %s: verification failed: %s", item.inbound_id,
                        type(error).__name__)  # fmt: skip
            verdict = Verdict("none", f"verification error: {type(error).__name__}", checked=True)
        return replace(item, mail=mail, verdict=verdict)

    def _apply_one(self, session, row: Inbound, item: _Work, careful: bool) -> int:
        now = self.clock()
        if item.mail is None and item.refused is None:  # unparsed: nothing to roll back
            return self._park(session, row, ValueError(item.error), now)
        if not careful:
            return _redo_on_failure(self._apply, session, row, item, now)
        try:
            with session.begin_nested():
                return self._apply(session, row, item, now)
        except Exception as error:
            return self._park(session, row, error, now)

    @staticmethod
    def _park(session, row: Inbound, error: Exception, now: datetime) -> int:
        # The log names the row and the kind of error, never what the mail holds; the whole
        # error goes with the row (`gateway inbound list --status failed`).
        log.error("inbound %s failed: %s", row.id, type(error).__name__)
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        spool.finish_inbound(session, row, "failed", now, detail[:2000])
        return 0

    def _apply(self, session, row: Inbound, item: _Work, now: datetime) -> int:
        if item.refused is not None:
            spool.add_quarantine(session, row.id, now, item.refused.reason,
                                item.refused.detail, row.mail_from)  # fmt: skip
            spool.finish_inbound(session, row, "done", now, None)
            return 0
        mail, own_words = item.mail, item.reading.own_words
        if own_words is not None:  # found as the mail was read: not looked for again here
            quotes.remember(mail.text, mail.html, own_words)
        queued = self.dispatcher.handle(session, row, mail, now, item.verdict,
                                        item.message_id_reused)  # fmt: skip
        noticed, kept = card_guard.settle(session, self.notices, row, item.reading, now)
        queued += noticed
        kind = item.reading.privacy_kind
        queued += privacy_requests.settle(session, self.notices, self.staff_notices, row, kind,
                                          item.verdict.verified, now)  # fmt: skip
        spool.finish_inbound(session, row, "done", now, None, kept)  # with the raw copy kept
        return queued


class _Redo(Exception):
    """A message failed in a transaction applied without savepoints (the cause says why)."""


def _redo_on_failure(step: Callable, *args):
    try:
        return step(*args)
    except Exception as error:
        raise _Redo from error
