"""The answer clock: pause it while a ticket is pending and move its deadline when it comes
back; warn the staff involved before an answer is due, and tell the managers when it is missed.

A deadline is the first response's (`ticket.sla_due_at`) until staff first answer, then each
follow-up's (`ticket.reply_due_at`); a unique key per deadline (`sla-warning:ticket:42:<due>`)
makes each warning and escalation happen once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gateway.core import sla as sla_rules
from gateway.staff_commands import involved_staff
from gateway.store import repo, staffing, timed
from gateway.store.db import Database
from gateway.store.tables import Ticket

if TYPE_CHECKING:
    from gateway.jobs import JobContext, JobSettings

SLA_LOOKBACK = timedelta(days=2)  # deadlines missed longer ago (gateway down) are not chased


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
    return f"{kind}:ticket:{ticket_id}:{stamp(due)}"


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
                       ticket_id=ticket.id, detail={"due": stamp(due)}):  # fmt: skip
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
                             kind=kind, now=now)  # fmt: skip
    return True


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
