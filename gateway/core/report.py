"""The weekly report's figures, computed from plain rows: no database, no clock.

Percentiles use the nearest-rank method (the p-th percentile of n sorted values is the value
at rank ceil(p/100 * n)), so every figure can be checked by hand; the median is the usual
middle value (the mean of the two middle values for an even count).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class TicketRow:
    id: int
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class ComplaintRow:
    ticket_id: int
    opened_at: datetime
    manager: str  # in charge ("" when nobody could be named)
    answered_at: datetime | None  # first public answer by a manager


@dataclass(frozen=True)
class RatingRow:
    reply_id: int
    ticket_id: int
    staff: str
    score: int
    comment: str
    rated_at: datetime
    reviewed_by: str = ""  # the staff member whose answer to the review mail came after it


@dataclass(frozen=True)
class MessageRow:
    """One public message of a ticket, for the answers to follow-ups."""

    ticket_id: int
    at: datetime
    from_staff: bool  # a staff reply; else the customer's own mail (auto-replies left out)


@dataclass(frozen=True)
class Week:
    label: str  # ISO week, "2026-W48"
    start: datetime  # Monday 00:00 in the company's time zone, as an aware datetime
    end: datetime  # the next Monday 00:00

    def holds(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end


@dataclass(frozen=True)
class StaffScore:
    staff: str
    count: int
    average: float


@dataclass(frozen=True)
class ComplaintAnswer:
    ticket_id: int
    manager: str
    minutes: float | None  # None: not answered yet


@dataclass(frozen=True)
class Figures:
    week: Week
    opened: int
    resolved: int
    answered: int  # of the tickets opened this week, those with a first response
    median_first_response: float | None  # minutes
    p90_first_response: float | None
    within_15_minutes: float | None  # share of the tickets opened this week, 0..1
    within_1_hour: float | None
    follow_ups: int  # customer messages this week after a first response, one per wait
    median_follow_up_answer: float | None  # minutes
    follow_ups_within_1_hour: float | None  # share of this week's follow-ups, 0..1
    complaints: tuple[ComplaintAnswer, ...]
    median_complaint_answer: float | None
    scores: tuple[StaffScore, ...]  # best average first
    rating_count: int
    lowest: tuple[RatingRow, ...]
    best: StaffScore | None


def compute(
    week: Week,
    tickets: list[TicketRow],
    complaints: list[ComplaintRow],
    ratings: list[RatingRow],
    *,
    min_ratings: int,
    lowest_count: int,
    messages: Iterable[MessageRow] = (),
) -> Figures:
    opened = [t for t in tickets if week.holds(t.created_at)]
    waits = sorted(
        _minutes(t.created_at, t.first_response_at) for t in opened if t.first_response_at
    )
    answers = tuple(
        ComplaintAnswer(c.ticket_id, c.manager, _minutes(c.opened_at, c.answered_at))
        for c in sorted(complaints, key=lambda c: c.opened_at)
        if week.holds(c.opened_at)
    )
    follow_ups = follow_up_waits(messages, week)
    follow_answers = sorted(w for w in follow_ups if w is not None)
    rated = [r for r in ratings if week.holds(r.rated_at)]
    scores = _scores(rated)
    qualified = [s for s in scores if s.count >= max(1, min_ratings)]
    return Figures(
        week=week,
        opened=len(opened),
        resolved=sum(1 for t in tickets if week.holds(t.resolved_at)),
        answered=len(waits),
        median_first_response=statistics.median(waits) if waits else None,
        p90_first_response=nearest_rank(waits, 90),
        within_15_minutes=_share(sum(1 for w in waits if w <= 15), len(opened)),
        within_1_hour=_share(sum(1 for w in waits if w <= 60), len(opened)),
        follow_ups=len(follow_ups),
        median_follow_up_answer=statistics.median(follow_answers) if follow_answers else None,
        follow_ups_within_1_hour=_share(sum(1 for w in follow_answers if w <= 60), len(follow_ups)),
        complaints=answers,
        median_complaint_answer=_median([a.minutes for a in answers if a.minutes is not None]),
        scores=scores,
        rating_count=len(rated),
        lowest=tuple(sorted(rated, key=lambda r: (r.score, r.rated_at))[:lowest_count]),
        best=qualified[0] if qualified else None,
    )


def follow_up_waits(messages: Iterable[MessageRow], week: Week) -> list[float | None]:
    """For each wait that began this week, the minutes until staff answered (None: not yet).
    A wait begins with the customer's first message after a staff reply (before the first
    reply, the first-response figures count) and ends with the next staff reply; messages in
    between belong to the same wait, as the SLA clock counts them."""
    waits: list[float | None] = []
    by_ticket: dict[int, list[MessageRow]] = {}
    for row in messages:
        by_ticket.setdefault(row.ticket_id, []).append(row)
    for rows in by_ticket.values():
        replied, since = False, None
        for row in sorted(rows, key=lambda r: r.at):
            if row.from_staff:
                if since is not None and week.holds(since):
                    waits.append(_minutes(since, row.at))
                replied, since = True, None
            elif replied and since is None:
                since = row.at
        if since is not None and week.holds(since):
            waits.append(None)
    return waits


def nearest_rank(sorted_values: list[float], percentile: int) -> float | None:
    if not sorted_values:
        return None
    rank = math.ceil(percentile / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def _scores(rated: list[RatingRow]) -> tuple[StaffScore, ...]:
    by_staff: dict[str, list[int]] = {}
    for row in rated:
        by_staff.setdefault(row.staff, []).append(row.score)
    scores = [StaffScore(name, len(v), sum(v) / len(v)) for name, v in by_staff.items()]
    return tuple(sorted(scores, key=lambda s: (-s.average, -s.count, s.staff)))


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() / 60


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


# Which week --------------------------------------------------------------------------------


def week_of(label: str, timezone: str) -> Week:
    """The ISO week "2026-W48" in the company's time zone."""
    year, _, number = label.upper().partition("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    return _week_from(monday, timezone)


def week_due(now: datetime, timezone: str, day: str, at: time) -> Week:
    """The last full week before the most recent send moment (e.g. Monday 08:00) not after
    `now`: on Monday 08:00 that is the week that ended at midnight."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    send_day = local.date() - timedelta(days=(local.weekday() - DAYS.index(day)) % 7)
    if datetime.combine(send_day, at, tzinfo=zone) > local:
        send_day -= timedelta(days=7)
    monday = send_day - timedelta(days=send_day.weekday() + 7)  # the last full week before
    return _week_from(monday, timezone)


def send_moment(week: Week, timezone: str, day: str, at: time) -> datetime:
    """When the report of `week` is due: the first `day` `at` after the week ends."""
    zone = ZoneInfo(timezone)
    end = week.end.astimezone(zone).date()
    send_day = end + timedelta(days=(DAYS.index(day) - end.weekday()) % 7)
    return datetime.combine(send_day, at, tzinfo=zone)


def _week_from(monday: date, timezone: str) -> Week:
    zone = ZoneInfo(timezone)
    iso = monday.isocalendar()
    start = datetime.combine(monday, time(), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(), tzinfo=zone)
    return Week(f"{iso.year}-W{iso.week:02d}", start, end)
