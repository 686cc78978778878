"""Mail sent once a day at a set local time (the held-mail list, each member's open work):
which day is due, and whether some run has sent it already."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gateway.store import timed


@dataclass(frozen=True)
class Due:
    day: date  # the local day whose mail is due
    moment: datetime  # its set time that day
    key: str  # the once-only key of that day's mail


def due_day(now: datetime, timezone: str, at: time) -> tuple[date, datetime]:
    """The local day whose mail is due at `now` (the latest `at` not after it) and that
    moment."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    day = local.date()
    if datetime.combine(day, at, tzinfo=zone) > local:
        day -= timedelta(days=1)
    return day, datetime.combine(day, at, tzinfo=zone)


def unsent(db, now: datetime, timezone: str, at: time | None, kind: str) -> Due | None:
    """The day's mail of `kind` if it is turned on and no run has claimed it yet (looked up
    without a write lock: every minute but one a day finds it sent)."""
    if at is None:
        return None
    day, moment = due_day(now, timezone, at)
    key = f"{kind}:{day.isoformat()}"
    with db.read() as session:
        if timed.claimed(session, key) is not None:
            return None
    return Due(day, moment, key)
