"""The timed actions, as plain functions `job(db, now, ctx)` the scheduler (or a person, with
`gateway jobs run NAME --now ...`) calls.

Each job reads what is due from database columns and writes outbox rows and events in one
transaction; a unique key per action (`sla-warning:ticket:42:<deadline>`) makes it happen once,
however many schedulers share the database and however often they run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from gateway import approval_expiry, held_digest, open_digest, rating_reviews, sla_clock
from gateway.approvals import ApprovalDesk
from gateway.complaint_desk import ComplaintDesk
from gateway.core import sla as sla_rules
from gateway.errors import without_message
from gateway.staff_notices import StaffNotices
from gateway.store import repo, retention, spool, staffing, timed
from gateway.store.db import Database, StoreUnavailable
from gateway.store.tables import Ticket
from gateway.timed_mail import TimedMail
from gateway.weekly_report import WeeklyReport

log = logging.getLogger(__name__)
SATISFACTION_WINDOW = timedelta(days=14)  # older resolutions are not asked about any more
# Tickets reopened after they were emptied, then closed again, are looked for among those
# closed in this window before the limit; each run empties at most a batch.
RETENTION_WINDOW, RETENTION_BATCH = timedelta(days=30), 500


@dataclass(frozen=True)
class JobSettings:
    warn_before: timedelta = timedelta(minutes=15)
    calendars: sla_rules.Calendars = sla_rules.Calendars()
    satisfaction_after: timedelta = timedelta(hours=24)
    pending_reminder: timedelta | None = timedelta(days=3)  # None: never
    pending_resolve: timedelta | None = timedelta(days=7)
    close_after: timedelta | None = timedelta(days=7)
    forget_held_after: timedelta | None = timedelta(days=30)
    forget_closed_after: timedelta | None = None  # closed tickets' words kept forever
    held_digest_at: time | None = time(8, 0)  # in `timezone`; None: no daily list
    open_digest_at: time | None = time(8, 0)  # each member's open tickets; None: none
    review_at_most: int = 2  # ratings at or below go to the managers for review; 0: none
    timezone: str = "UTC"


@dataclass(frozen=True)
class JobContext:
    notices: StaffNotices
    mail: TimedMail
    complaints: ComplaintDesk
    report: WeeklyReport
    settings: JobSettings
    approvals: ApprovalDesk | None = None  # for the requests that expire


# Complaints -------------------------------------------------------------------------------


def complaints(db: Database, now: datetime, ctx: JobContext) -> int:
    return ctx.complaints.run(db, now)


# After resolution --------------------------------------------------------------------------


def satisfaction(db: Database, now: datetime, ctx: JobContext) -> int:
    """One satisfaction request per resolved ticket none of whose replies was rated."""
    until = now - ctx.settings.satisfaction_after
    with db.read() as session:
        found = timed.unrated_resolved(session, until - SATISFACTION_WINDOW, until)
        ids = timed.untaken(session, {t: f"satisfaction:ticket:{t}" for t in found})
    return timed.for_each_ticket(db, ids, lambda s, t: _ask(s, t, now, ctx))


def _ask(session, ticket: Ticket, now: datetime, ctx: JobContext) -> bool:
    contact = _reachable(repo.contact_by_id(session, ticket.requester_id))
    reply = timed.last_staff_reply(session, ticket.id)
    if contact is None or reply is None:
        return False
    detail = {"reply_id": reply.id, "contact_id": contact.id}
    if not timed.claim(session, f"satisfaction:ticket:{ticket.id}", now, "satisfaction-asked",
                       ticket_id=ticket.id, actor=contact.email, detail=detail):  # fmt: skip
        return False
    author = staffing.staff_by_id(session, reply.author_staff_id)
    ctx.mail.satisfaction_request(session, ticket, contact, reply, author, now)
    return True


def pending(db: Database, now: datetime, ctx: JobContext) -> int:
    """Remind the customer of a pending ticket, then resolve it if they stay silent."""
    done = sla_clock.ticket_clock(db, now, ctx)
    for delay, action in ((ctx.settings.pending_reminder, _remind),
                          (ctx.settings.pending_resolve, _auto_resolve)):  # fmt: skip
        if delay is None:
            continue
        with db.read() as session:
            found = timed.pending_since_before(session, now - delay)
            ids = timed.untaken(session, {t: _pending_key(action, t, s) for t, s in found})
        done += timed.for_each_ticket(db, ids, lambda s, t, act=action: act(s, t, now, ctx))
    return done


def _remind(session, ticket: Ticket, now: datetime, ctx: JobContext) -> bool:
    since, resolve = ticket.pending_since, ctx.settings.pending_resolve
    contact = _reachable(repo.contact_by_id(session, ticket.requester_id))
    if ticket.status != "pending" or since is None or contact is None:
        return False
    if resolve is not None and now >= since + resolve:
        return False  # past the reminder's point: resolving comes next
    if not timed.claim(session, _pending_key(_remind, ticket.id, since), now,
                       "pending-reminded", ticket_id=ticket.id, actor=contact.email):  # fmt: skip
        return False
    resolve_on = since + (resolve or timedelta(days=7))
    ctx.mail.pending_reminder(session, ticket, contact, resolve_on, now)
    return True


def _auto_resolve(session, ticket: Ticket, now: datetime, ctx: JobContext) -> bool:
    since = ticket.pending_since
    if ticket.status != "pending" or since is None or _unanswered_complaint(session, ticket):
        return False
    if not timed.claim(session, _pending_key(_auto_resolve, ticket.id, since), now,
                       "auto-resolved", ticket_id=ticket.id,
                       detail={"pending_since": since}):  # fmt: skip
        return False
    ticket.status, ticket.resolved_at, ticket.pending_since = "resolved", now, None
    ticket.updated_at = now
    session.add(ticket)
    return True


def close_resolved(db: Database, now: datetime, ctx: JobContext) -> int:
    """Resolved tickets close after the configured days; a reply before that reopens them."""
    if ctx.settings.close_after is None:
        return 0
    with db.read() as session:
        ids = timed.resolved_before(session, now - ctx.settings.close_after)
    return timed.for_each_ticket(db, ids, lambda s, t: _close(s, t, now, ctx))


def _close(session, ticket: Ticket, now: datetime, ctx: JobContext) -> bool:
    resolved = ticket.resolved_at
    if ticket.status != "resolved" or resolved is None:
        return False
    if now < resolved + ctx.settings.close_after:
        return False
    if not timed.claim(session, f"auto-close:ticket:{ticket.id}:{sla_clock.stamp(resolved)}", now,
                       "auto-closed", ticket_id=ticket.id):  # fmt: skip
        return False
    ticket.status, ticket.updated_at = "closed", now
    session.add(ticket)
    return True


def forget_held(db: Database, now: datetime, ctx: JobContext) -> int:
    """Held mail (unknown senders', refused parses) is personal data kept for no ticket: after
    the configured days it is forgotten, and the count is an event."""
    if ctx.settings.forget_held_after is None:
        return 0
    before = now - ctx.settings.forget_held_after
    with db.read() as session:  # most minutes find none: no write lock taken for nothing
        if not spool.held_before(session, before):
            return 0
    with db.write() as session:
        forgotten = spool.forget_held(session, before)
        if forgotten:
            repo.add_event(session, now, "held-forgotten", detail={"count": forgotten})
    return forgotten


def forget_closed(db: Database, now: datetime, ctx: JobContext) -> int:
    """Closed tickets past the retention period keep their shape, not their words
    (`store/retention.py`). Looked for among those resolved in the window before the limit:
    each crosses it once, and the jobs run every minute."""
    if ctx.settings.forget_closed_after is None:
        return 0
    until = now - ctx.settings.forget_closed_after
    with db.read() as session:
        found = retention.due(session, until, until - RETENTION_WINDOW, RETENTION_BATCH)
        ids = timed.untaken(session, {t: _forget_key(t, at) for t, at in found})
    return timed.for_each_ticket(db, ids, lambda s, t: _forget(s, t, now, ctx))


def _forget(session, ticket: Ticket, now: datetime, ctx: JobContext) -> bool:
    if ticket.status != "closed" or ticket.resolved_at is None:  # reopened in the meantime
        return False
    days = ctx.settings.forget_closed_after.days
    if not timed.claim(session, _forget_key(ticket.id, ticket.resolved_at), now,
                       "ticket-forgotten", ticket_id=ticket.id,
                       detail={"after_days": days}):  # fmt: skip
        return False
    retention.forget_ticket(session, ticket, now)
    return True


def _forget_key(ticket_id: int, resolved_at: datetime) -> str:
    """Once for each closing: a ticket reopened and closed again is emptied again."""
    return f"forget-closed:ticket:{ticket_id}:{sla_clock.stamp(timed.aware(resolved_at))}"


def weekly_report(db: Database, now: datetime, ctx: JobContext) -> int:
    """The report of the last full week, once per staff member."""
    figures = ctx.report.figures(db, ctx.report.due_week(now))
    return ctx.report.send(db, figures, now)


def _unanswered_complaint(session, ticket: Ticket) -> bool:
    if ticket.category != "complaint":
        return False
    complaint = timed.complaint(session, ticket.id)
    since = complaint.opened_at if complaint else ticket.created_at
    return timed.manager_answer_at(session, ticket.id, since) is None


def _pending_key(action, ticket_id: int, since: datetime) -> str:
    kind = "pending-reminder" if action is _remind else "auto-resolve"
    return f"{kind}:ticket:{ticket_id}:{sla_clock.stamp(since)}"


def _reachable(contact):
    """The contact, unless erased (no address left to write to) or deactivated."""
    if contact is None or getattr(contact, "erased_at", None) or not contact.active:
        return None
    return contact


# The register ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Database, datetime, JobContext], int]
    summary: str
    immediate: bool = False  # also run right after inbound mail is processed


JOBS = (
    Job("ticket-clock", sla_clock.ticket_clock, "pause the SLA while pending, resume it after",
        immediate=True),
    Job("sla", sla_clock.sla, "first-response warnings before the deadline, escalations at it"),
    Job("complaints", complaints, "take complaints in, escalate unanswered ones, suggest",
        immediate=True),
    Job("satisfaction", satisfaction, "ask for a rating when a resolved ticket has none"),
    Job("rating-reviews", rating_reviews.send, "poorly rated replies to the managers, to review"),
    Job("pending", pending, "remind customers of pending tickets, then resolve them"),
    Job("close-resolved", close_resolved, "close resolved tickets after some days"),
    Job("forget-held", forget_held, "forget held mail after some days"),
    Job("forget-closed", forget_closed, "empty closed tickets past the retention period"),
    Job("approvals", approval_expiry.send, "expire unanswered permission requests, tell staff"),
    Job("held-digest", held_digest.send, "the day's held mail, listed to the managers"),
    Job("open-digest", open_digest.send, "each staff member's open tickets, every morning"),
    Job("weekly-report", weekly_report, "the weekly report to every staff member"),
)  # fmt: skip
BY_NAME = {job.name: job for job in JOBS}
FREQUENT = tuple(job.name for job in JOBS if job.name != "weekly-report")
IMMEDIATE = tuple(job.name for job in JOBS if job.immediate)


class Runner:
    """Runs jobs by name with the current time; a database outage is logged once."""

    def __init__(self, db: Database, ctx: JobContext, clock: Callable[[], datetime]):
        self.db, self.ctx, self.clock = db, ctx, clock
        self._outage = False
        self.runs: dict[str, int] = dict.fromkeys(BY_NAME, 0)  # completed runs, for watching

    def run(self, name: str, now: datetime | None = None) -> int:
        done = BY_NAME[name].run(self.db, now or self.clock(), self.ctx)
        self.runs[name] += 1
        return done

    def run_many(self, names: tuple[str, ...]) -> int:
        done = 0
        for name in names:
            try:
                done += self.run(name)
            except StoreUnavailable as error:
                if not self._outage:
                    log.warning("jobs: database unavailable, will retry: %s", error)
                self._outage = True
                return done
            except Exception as error:
                log.error("job %s failed: %s", name, without_message(error))
        self._outage = False
        return done
