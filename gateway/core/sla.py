"""The first-response clock: 24/7 by default, or opening hours and holidays per department.

Pure: a `Calendar` counts only the minutes inside its opening hours, in its own time zone, so
a deadline set on Friday evening falls on Monday morning, and a pause is measured the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WHOLE_DAY = 24 * 60
MAX_DAYS = 800  # a calendar with hours finds them within a few days; this bounds bad ones
_RULE = re.compile(
    r"^(?P<days>daily|[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)"
    r"(?:\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2}))?$"
)


@dataclass(frozen=True)
class Window:
    """Open from `start` to `end` (minutes after local midnight) on one weekday (0 = Monday)."""

    weekday: int
    start: int
    end: int


@dataclass(frozen=True)
class Calendar:
    timezone: str = "UTC"
    windows: tuple[Window, ...] = ()  # empty: open all day, every day
    holidays: frozenset[date] = frozenset()

    @property
    def always_open(self) -> bool:
        return not self.windows and not self.holidays

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of one local day, as UTC datetimes."""
        if day in self.holidays:
            return []
        zone = ZoneInfo(self.timezone)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        spans = [(w.start, w.end) for w in self.windows if w.weekday == day.weekday()]
        if not self.windows:
            spans = [(0, WHOLE_DAY)]
        return [
            (_utc(midnight + timedelta(minutes=a)), _utc(midnight + timedelta(minutes=b)))
            for a, b in sorted(spans)
        ]

    def is_open(self, moment: datetime) -> bool:
        day = moment.astimezone(ZoneInfo(self.timezone)).date()
        return any(a <= moment < b for a, b in self.intervals(day))

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of opening time after `start`."""
        if self.always_open:
            return start + timedelta(minutes=minutes)
        remaining = timedelta(minutes=minutes)
        day = start.astimezone(ZoneInfo(self.timezone)).date()
        for offset in range(MAX_DAYS):
            for a, b in self.intervals(day + timedelta(days=offset)):
                a = max(a, start)
                if a >= b:
                    continue
                if b - a >= remaining:
                    return a + remaining
                remaining -= b - a
        raise ValueError("the calendar has no opening hours")

    def minutes_between(self, start: datetime, end: datetime) -> float:
        """Opening minutes in [start, end)."""
        if end <= start:
            return 0.0
        if self.always_open:
            return (end - start).total_seconds() / 60
        zone = ZoneInfo(self.timezone)
        day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        total = timedelta()
        while day <= last:
            for a, b in self.intervals(day):
                a, b = max(a, start), min(b, end)
                if a < b:
                    total += b - a
            day += timedelta(days=1)
        return total.total_seconds() / 60


@dataclass(frozen=True)
class Calendars:
    """The company calendar and the departments that keep their own."""

    default: Calendar = Calendar()
    departments: tuple[tuple[str, Calendar], ...] = ()

    def for_department(self, name: str | None) -> Calendar:
        wanted = (name or "").strip().lower()
        for department, calendar in self.departments:
            if department.lower() == wanted:
                return calendar
        return self.default


def first_response_due(
    opened_at: datetime, minutes: int, calendar: Calendar | None = None
) -> datetime:
    return (calendar or Calendar()).add(opened_at, minutes)


def resumed_due(calendar: Calendar, due: datetime, paused_at: datetime, now: datetime):
    """The deadline after a pause from `paused_at` to `now`: the opening time left at the pause
    is counted again from `now`. A deadline already passed when the pause began stays put."""
    if due <= paused_at:
        return due
    return calendar.add(now, calendar.minutes_between(paused_at, due))


# Reading the configuration's words -----------------------------------------------------------


def parse_hours(rules: tuple[str, ...]) -> tuple[Window, ...]:
    """Rules like "mon-fri 09:00-18:00", "sat 10:00-13:00", "sat,sun" or "daily 08:00-20:00"."""
    windows: list[Window] = []
    for rule in rules:
        match = _RULE.match(" ".join(rule.lower().split()))
        if not match:
            raise ValueError(f"not an opening-hours rule: {rule!r} (e.g. 'mon-fri 09:00-18:00')")
        start = _minutes(match.group("start") or "0:00")
        end = _minutes(match.group("end") or "24:00")
        if not start < end <= WHOLE_DAY:
            raise ValueError(f"{rule!r}: the end must come after the start, within the day")
        windows.extend(Window(day, start, end) for day in _days(match.group("days"), rule))
    return tuple(windows)


def parse_holidays(items: tuple[str, ...]) -> frozenset[date]:
    try:
        return frozenset(date.fromisoformat(item.strip()) for item in items)
    except ValueError as error:
        raise ValueError(f"holidays are written YYYY-MM-DD: {error}") from None


def split_department(entry: str) -> tuple[str, str]:
    """`"Billing: mon-fri 09:00-17:00"` -> ("Billing", "mon-fri 09:00-17:00")."""
    name, colon, rest = entry.partition(":")
    if not colon or not name.strip() or not rest.strip():
        raise ValueError(f"expected 'DEPARTMENT: VALUE', got {entry!r}")
    return name.strip(), rest.strip()


def _days(spec: str, rule: str) -> list[int]:
    if spec == "daily":
        return list(range(7))
    days: list[int] = []
    for part in spec.split(","):
        first, _, final = part.partition("-")
        if first not in DAYS or (final and final not in DAYS):
            raise ValueError(f"{rule!r}: days are {', '.join(DAYS)}")
        a, b = DAYS.index(first), DAYS.index(final or first)
        days.extend((a + i) % 7 for i in range((b - a) % 7 + 1))
    return days


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > WHOLE_DAY:
        raise ValueError(f"not a time of day: {text!r}")
    return value


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
