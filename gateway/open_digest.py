"""Each morning, every staff member's open work by mail: the tickets assigned to them, then
their department's that nobody holds, overdue first. Staff work from their mail client and
have no list to open; a ticket whose notification was read and set aside must not wait unseen
until its deadline is missed. Nobody with nothing open gets a mail.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gateway import daily
from gateway.core import threads
from gateway.store import staffing, timed
from gateway.store.db import Database
from gateway.store.tables import Ticket

LISTED = 50  # rows of each list in one mail; the count says how many more


def send(db: Database, now: datetime, ctx) -> int:
    """Queue the day's lists once (a once-only key per local day); returns the mails queued."""
    settings = ctx.settings
    due = daily.unsent(db, now, settings.timezone, settings.open_digest_at, "open-digest")
    if due is None:
        return 0
    day = due.day
    with db.write() as session:
        if not timed.claim(session, due.key, now, "open-digest"):
            return 0
        tickets = sorted(timed.live_tickets(session), key=lambda t: _order(t, now))
        sent = 0
        for member in staffing.active_staff(session):
            mine = [t for t in tickets if t.assignee_id == member.id]
            nobodys = [t for t in tickets if t.assignee_id is None
                       and t.department_id in (member.department_id, None)]  # fmt: skip
            if not mine and not nobodys:
                continue
            context = {"day": day.isoformat(), "name": member.name,
                       "mine": _rows(mine, now, ctx), "nobodys": _rows(nobodys, now, ctx),
                       "mine_more": max(0, len(mine) - LISTED),
                       "nobodys_more": max(0, len(nobodys) - LISTED)}  # fmt: skip
            ctx.notices.open_digest(session, member, context, now)
            sent += 1
        return sent


def _order(ticket: Ticket, now: datetime) -> tuple:
    """Overdue first, then by deadline; waiting on the customer (pending) last; then oldest."""
    due = timed.awaited_due(ticket)
    due = timed.aware(due) if due is not None and ticket.status != "pending" else None
    return (due is None, due or now, timed.aware(ticket.created_at), ticket.id)


def _rows(tickets: list[Ticket], now: datetime, ctx) -> list[dict]:
    zone = ZoneInfo(ctx.settings.timezone)
    rows = []
    for ticket in tickets[:LISTED]:
        due = timed.awaited_due(ticket)
        waiting = ticket.status == "pending"
        rows.append({
            "tag": threads.subject_tag(ctx.notices.company.tag, ticket.id),
            "subject": " ".join(ticket.subject.split())[:70],
            "status": ticket.status,
            "priority": ticket.priority,
            "due": "" if due is None or waiting
                   else timed.aware(due).astimezone(zone).strftime("%d/%m %H:%M"),
            "overdue": due is not None and not waiting and timed.aware(due) <= now,
            "age": _age(now - timed.aware(ticket.created_at)),
        })  # fmt: skip
    return rows


def _age(elapsed) -> str:
    hours = int(elapsed.total_seconds() // 3600)
    return f"{hours // 24} d" if hours >= 24 else f"{hours} h"
