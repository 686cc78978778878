"""The daily list of held mail, to the managers (or, with none, to every active staff member).

Mail held in quarantine (an unknown sender, a contact deactivated, forged or unreadable mail)
reaches no ticket, and nobody reads `gateway held list` by habit: a customer's new colleague
not yet registered would wait unseen. Once a day, the day's held mail that nobody was told of
is listed by mail, with the commands that show and release it. Held mail whose sender or staff
were already told (a refused permission answer, unverified staff mail) or that needs no one
(automatic replies, bounces) is left out.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from gateway import daily
from gateway.core import lookalike
from gateway.store import spool, staffing, timed
from gateway.store.db import Database

ALREADY_TOLD = frozenset({
    "automatic", "bounce", "approval-not-counted", "unverified-staff", "staff-no-ticket",
    "replayed-staff-mail", "staff-auto-reply", "staff-commands",
})  # fmt: skip
LISTED = 50  # rows in one mail; the count says how many more `gateway held list` has


def send(db: Database, now: datetime, ctx) -> int:
    """Queue the day's list once (a once-only key per local day); returns the mails queued.
    A day with nothing to list is claimed too, and sends nothing."""
    settings = ctx.settings
    due = daily.unsent(db, now, settings.timezone, settings.held_digest_at, "held-digest")
    if due is None:
        return 0
    day, moment = due.day, due.moment
    with db.write() as session:
        held = spool.held_between(session, moment - timedelta(days=1), moment)
        listed = [row for row in held if row.reason not in ALREADY_TOLD]
        if not timed.claim(session, due.key, now, "held-digest", detail={"count": len(listed)}):
            return 0
        if not listed:
            return 0
        members = timed.managers(session) or staffing.active_staff(session)
        context = _context(listed, day, settings.timezone)
        for member in members:
            ctx.notices.held_digest(session, member, context, now)
        return len(members)


def _context(rows, day: date, timezone: str) -> dict:
    zone = ZoneInfo(timezone)
    reasons: dict[str, int] = {}
    for row in rows:
        reasons[row.reason] = reasons.get(row.reason, 0) + 1
    return {
        "day": day.isoformat(),
        "count": len(rows),
        "reasons": sorted(reasons.items(), key=lambda item: (-item[1], item[0])),
        "rows": [
            {
                "id": row.id,
                "at": timed.aware(row.created_at).astimezone(zone).strftime("%d/%m %H:%M"),
                "sender": lookalike.shown(_one_line(row.sender)) if row.sender else "(none)",
                "reason": row.reason,
                "detail": _one_line(row.detail)[:160],
            }
            for row in rows[:LISTED]
        ],
        "more": max(0, len(rows) - LISTED),
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())
