"""Urgent tickets are answered sooner: `/priority urgent` brings the answer a ticket awaits
forward to within `sla.urgent_minutes` (15) of that moment, unless it is due sooner already,
and each later message of the customer on it is due as soon. Warnings and escalations follow
the deadline as for any ticket. Lowering the priority keeps the deadline already set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.core import sla
from gateway.store import staffing, timed
from gateway.store.tables import Ticket


@dataclass(frozen=True)
class Urgency:
    minutes: int = 15  # 0: urgent tickets keep the usual deadline
    calendars: sla.Calendars = sla.Calendars()

    def due(self, session, ticket: Ticket, now: datetime) -> datetime | None:
        """When an answer awaited from `now` on this urgent ticket is due (None: no sooner
        than usual)."""
        if not self.minutes:
            return None
        department = staffing.department(session, ticket.department_id)
        calendar = self.calendars.for_department(department.name if department else "")
        return sla.first_response_due(now, self.minutes, calendar)

    def sooner(self, session, ticket: Ticket, usual: datetime | None, now) -> datetime | None:
        """A customer's message on the ticket: the usual deadline, or the urgent one."""
        if ticket.priority != "urgent":
            return usual
        urgent = self.due(session, ticket, now)
        if urgent is None or usual is None:
            return usual or urgent
        return min(timed.aware(usual), urgent)

    def pull_forward(self, session, ticket: Ticket, now: datetime) -> datetime | None:
        """`/priority urgent` on a ticket awaiting an answer: its deadline moves forward, and
        the new one is returned (None: nothing awaited, or due sooner already)."""
        awaited = timed.awaited_due(ticket)
        if awaited is None or ticket.status not in timed.OPEN_STATUSES:
            return None
        urgent = self.due(session, ticket, now)
        if urgent is None or timed.aware(awaited) <= urgent:
            return None
        if ticket.first_response_at is None:
            ticket.sla_due_at = urgent
        else:
            ticket.reply_due_at = urgent
        return urgent

    def after_commands(self, session, ticket: Ticket, steps, outcome, now: datetime) -> None:
        """Called once a staff mail's commands are applied: says in the receipt when an
        urgent priority moved the deadline."""
        urgent = any(s.command.verb == "priority" and s.command.argument == "urgent"
                     for s in steps)  # fmt: skip
        moved = self.pull_forward(session, ticket, now) if urgent else None
        if moved is not None:
            outcome.recorded.append(f"urgent: the answer is now due {moved:%Y-%m-%d %H:%M} UTC")
