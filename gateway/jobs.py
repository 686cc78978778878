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

from gateway import held_digest
from gateway.complaint_desk import ComplaintDesk
from gateway.core import sla as sla_rules
from gateway.staff_commands import involved_staff
from gateway.staff_notices import StaffNotices
from gateway.store import repo, spool, staffing, timed
from gateway.store.db import Database, StoreUnavailable
from gateway.store.tables import Ticket
from gateway.timed_mail import TimedMail
from gateway.weekly_report import WeeklyReport

log = logging.getLogger(__name__)
SATISFACTION_WINDOW = timedelta(days=14)  # older resolutions are not asked about any more
SLA_LOOKBACK = timedelta(days=2)  # deadlines missed longer ago (gateway down) are not chased


@dataclass(frozen=True)
class JobSettings:
    warn_before: timedelta = timedelta(minutes=15)
    calendars: sla_rules.Calendars = sla_rules.Calendars()
    satisfaction_after: timedelta = timedelta(hours=24)
    pending_reminder: timedelta | None = timedelta(days=3)  # None: never
    pending_resolve: timedelta | None = timedelta(days=7)
    close_after: timedelta | None = timedelta(days=7)
    forget_held_after: timedelta | None = timedelta(days=30)
    held_digest_at: time | None = time(8, 0)  # in `timezone`; None: no daily list
    timezone: str = "UTC"


@dataclass(frozen=True)
class JobContext:
    notices: StaffNotices
    mail: TimedMail
    complaints: ComplaintDesk
    report: WeeklyReport
    settings: JobSettings


# The clock follows the ticket's status ----------------------------------------------------


def ticket_clock(db: Database, now: datetime, ctx: JobContext) -> int:
    """Note when a ticket went pending (pausing its SLA), and when it came back, move its
    first-response deadline by the opening time the pause took."""
    with db.read() as session:
        ids = timed.pending_changed(session)
    return timed.for_each_ticket(db, ids, lambda s, t: _follow(s, t, now, ctx.settings))


def _follow(session, ticket: Ticket, now: datetime, settings: JobSettings) -> bool:
    awaited = timed.awaited_due(ticket)
    running = awaited is not None
    if ticket.status == "pending" and ticket.pending_since is None:
        ticket.pending_since = now
        if running:
            repo.add_event(session, now, "sla-paused", ticket_id=ticket.id)
    elif ticket.status != "pending" and ticket.pending_since is not None:
        if running:
            department = staffing.department(session, ticket.department_id)
            calendar = settings.calendars.for_department(department.name if department else "")
            due = sla_rules.resumed_due(calendar, awaited, ticket.pending_since, now)
            repo.add_event(session, now, "sla-resumed", ticket_id=ticket.id,
                           detail={"paused_at": ticket.pending_since, "due": due})  # fmt: skip
            if ticket.first_response_at is None:
                ticket.sla_due_at = due
            else:
                ticket.reply_due_at = due
        ticket.pending_since = None
    else:
        return False
    session.add(ticket)
    return True


# First-response warnings and escalations ---------------------------------------------------


def sla(db: Database, now: datetime, ctx: JobContext) -> int:
    with db.read() as session:
        due = timed.sla_due(session, now - SLA_LOOKBACK, now + ctx.settings.warn_before)
        ids = timed.untaken(session, {t: _sla_key(t, d, now) for t, d in due})
    return timed.for_each_ticket(db, ids, lambda s, t: _sla_step(s, t, now, ctx))


def _sla_key(ticket_id: int, due: datetime, now: datetime) -> str:
    kind = "sla-breach" if now >= due else "sla-warning"
    return f"{kind}:ticket:{ticket_id}:{_stamp(due)}"


def _sla_step(session, ticket: Ticket, now: datetime, ctx: JobContext) -> bool:
    due = timed.awaited_due(ticket)
    if (
        due is None
        or ticket.pending_since is not None
        or ticket.status not in timed.OPEN_STATUSES
        or now < due - ctx.settings.warn_before
    ):
        return False
    kind = "sla-breach" if now >= due else "sla-warning"
    if not timed.claim(session, _sla_key(ticket.id, due, now), now, kind,
                       ticket_id=ticket.id, detail={"due": _stamp(due)}):  # fmt: skip
        return False
    when = due.strftime("%Y-%m-%d %H:%M UTC")
    first = ticket.first_response_at is None
    if kind == "sla-warning":
        members = involved_staff(session, ticket)
        headline = (
            f"First response due at {when}: this ticket has no answer yet."
            if first
            else f"Answer due at {when}: the customer's latest message has no answer yet."
        )
    else:
        members = timed.managers(session, ticket.department_id) or timed.managers(session)
        missed = "no first response" if first else "the customer's latest message unanswered"
        headline = f"Deadline missed: {missed} by {when}. Escalated to managers."
    ctx.notices.notify_staff(session, ticket, members, headline=headline, text="",
                             internal=False, kind=kind, now=now)  # fmt: skip
    return True


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
    done = ticket_clock(db, now, ctx)
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
    if not timed.claim(session, f"auto-close:ticket:{ticket.id}:{_stamp(resolved)}", now,
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
    return f"{kind}:ticket:{ticket_id}:{_stamp(since)}"


def _reachable(contact):
    """The contact, unless erased (no address left to write to) or deactivated."""
    if contact is None or getattr(contact, "erased_at", None) or not contact.active:
        return None
    return contact


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# The register ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Database, datetime, JobContext], int]
    summary: str
    immediate: bool = False  # also run right after inbound mail is processed


JOBS = (
    Job("ticket-clock", ticket_clock, "pause the SLA while pending, resume it after",
        immediate=True),
    Job("sla", sla, "first-response warnings before the deadline, escalations at it"),
    Job("complaints", complaints, "take complaints in, escalate unanswered ones, suggest",
        immediate=True),
    Job("satisfaction", satisfaction, "ask for a rating when a resolved ticket has none"),
    Job("pending", pending, "remind customers of pending tickets, then resolve them"),
    Job("close-resolved", close_resolved, "close resolved tickets after some days"),
    Job("forget-held", forget_held, "forget held mail after some days"),
    Job("held-digest", held_digest.send, "the day's held mail, listed to the managers"),
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
            except Exception:
                log.exception("job %s failed", name)
        self._outage = False
        return done
