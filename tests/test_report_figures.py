"""The weekly report's figures against a small data set computed by hand (see the comments)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from gateway.core import report

PARIS = "Europe/Paris"


def utc(day, hour=0, minute=0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def minutes(start: datetime, count: float) -> datetime:
    return start + timedelta(minutes=count)


def ticket(number, created, wait=None, resolved=None) -> report.TicketRow:
    return report.TicketRow(number, created, minutes(created, wait) if wait is not None else None,
                            resolved)  # fmt: skip


# Week 2026-W48 in Paris runs from Sunday 22 Nov 23:00 UTC to Sunday 29 Nov 23:00 UTC.
TICKETS = [
    ticket(1, utc(23, 9), wait=5, resolved=utc(23, 10)),
    ticket(2, utc(24, 10), wait=12),
    ticket(3, utc(25, 8), wait=30, resolved=utc(26, 9)),
    ticket(4, utc(26, 14), wait=90),
    ticket(5, utc(27, 9)),  # never answered
    ticket(6, utc(20, 9), wait=3, resolved=utc(24, 9)),  # opened the week before
    ticket(7, utc(22, 23, 30), wait=15),  # 00:30 on Monday in Paris: this week; exactly 15
    ticket(8, utc(29, 23, 30), wait=1),  # 00:30 on the next Monday in Paris: not this week
]
COMPLAINTS = [
    report.ComplaintRow(4, utc(26, 14), "Maria Manager", minutes(utc(26, 14), 45)),
    report.ComplaintRow(5, utc(27, 9), "Maria Manager", None),
    report.ComplaintRow(6, utc(20, 9), "Paul Boss", minutes(utc(20, 9), 10)),  # last week
    report.ComplaintRow(2, utc(24, 10), "Paul Boss", minutes(utc(24, 10), 200)),
]


def rating(staff, score, day, comment="", number=1) -> report.RatingRow:
    return report.RatingRow(number * 100 + day, number, staff, score, comment, utc(day, 12))


RATINGS = [
    rating("Sam Agent", 5, 23), rating("Sam Agent", 4, 24), rating("Sam Agent", 5, 25),
    rating("Kim Second", 5, 26), rating("Kim Second", 5, 27),
    rating("Lee Third", 2, 24, "too slow", number=3), rating("Lee Third", 3, 25),
    rating("Lee Third", 1, 28, "wrong answer", number=4), rating("Lee Third", 4, 26),
    report.RatingRow(999, 9, "Sam Agent", 1, "", datetime(2026, 11, 30, 10, tzinfo=UTC)),
]  # fmt: skip


def figures() -> report.Figures:
    week = report.week_of("2026-W48", PARIS)
    return report.compute(week, TICKETS, COMPLAINTS, RATINGS, min_ratings=3, lowest_count=2)


def test_ticket_figures():
    f = figures()
    assert f.opened == 6  # 1, 2, 3, 4, 5 and 7
    assert f.resolved == 3  # 1, 3 and 6 were resolved this week
    assert f.answered == 5  # waits 5, 12, 15, 30, 90 minutes
    assert f.median_first_response == 15
    assert f.p90_first_response == 90  # rank ceil(0.9 * 5) = 5
    assert f.within_15_minutes == 3 / 6  # 5, 12 and 15 of the six opened
    assert f.within_1_hour == 4 / 6


def test_complaint_figures():
    f = figures()
    assert [(c.ticket_id, c.manager, c.minutes) for c in f.complaints] == [
        (2, "Paul Boss", 200), (4, "Maria Manager", 45), (5, "Maria Manager", None),
    ]  # fmt: skip
    assert f.median_complaint_answer == (45 + 200) / 2


def test_rating_figures():
    f = figures()
    assert f.rating_count == 9  # the tenth is on Monday of the next week
    assert [(s.staff, s.count, round(s.average, 3)) for s in f.scores] == [
        ("Kim Second", 2, 5.0), ("Sam Agent", 3, 4.667), ("Lee Third", 4, 2.5),
    ]  # fmt: skip
    assert f.best.staff == "Sam Agent"  # Kim has the best average but only two ratings
    assert [(r.score, r.ticket_id, r.comment) for r in f.lowest] == [
        (1, 4, "wrong answer"), (2, 3, "too slow"),
    ]  # fmt: skip


def test_an_empty_week_has_no_figures_to_invent():
    week = report.week_of("2026-W40", PARIS)
    f = report.compute(week, TICKETS, COMPLAINTS, RATINGS, min_ratings=3, lowest_count=5)
    assert (f.opened, f.median_first_response, f.within_1_hour, f.best) == (0, None, None, None)


def test_follow_up_waits_start_after_a_reply_and_end_at_the_next():
    week = report.week_of("2026-W48", "UTC")

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, 24, hour, minute, tzinfo=UTC)

    rows = [
        report.MessageRow(1, at(9), False),  # the request: first-response figures count it
        report.MessageRow(1, at(9, 30), True),
        report.MessageRow(1, at(10), False),  # a follow-up ...
        report.MessageRow(1, at(10, 20), False),  # ... and another before the answer
        report.MessageRow(1, at(11, 30), True),  # 90 minutes after the first of them
        report.MessageRow(2, at(8), False),
        report.MessageRow(2, at(8, 5), True),
        report.MessageRow(2, at(9), False),  # answered 15 minutes later
        report.MessageRow(2, at(9, 15), True),
        report.MessageRow(2, at(12), False),  # not answered yet
        report.MessageRow(3, at(8), False),  # never answered at all: no follow-up
        report.MessageRow(3, at(9), False),
    ]
    assert sorted(report.follow_up_waits(rows, week), key=str) == [15.0, 90.0, None]
    earlier = report.week_of("2026-W47", "UTC")
    assert report.follow_up_waits(rows, earlier) == []  # waits that began another week
    figures = report.compute(week, [], [], [], min_ratings=1, lowest_count=1, messages=rows)
    assert (figures.follow_ups, figures.follow_ups_within_1_hour) == (3, 1 / 3)
    assert figures.median_follow_up_answer == 52.5


def test_nearest_rank_percentile():
    assert report.nearest_rank([], 90) is None
    assert report.nearest_rank([7], 90) == 7
    assert report.nearest_rank(list(range(1, 11)), 90) == 9
    assert report.nearest_rank(list(range(1, 12)), 90) == 10  # ceil(9.9)


def test_which_week_is_due():
    eight = time(8, 0)
    monday_eight = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert report.week_due(monday_eight, PARIS, "mon", eight).label == "2026-W48"
    early = monday_eight - timedelta(minutes=1)
    assert report.week_due(early, PARIS, "mon", eight).label == "2026-W47"
    assert report.week_due(utc(29, 22), PARIS, "mon", eight).label == "2026-W47"
    thursday = datetime(2026, 12, 3, 12, tzinfo=UTC)
    assert report.week_due(thursday, PARIS, "mon", eight).label == "2026-W48"
    week = report.week_of("2026-W48", PARIS)
    assert report.send_moment(week, PARIS, "mon", eight) == monday_eight
    assert (week.start, week.end) == (utc(22, 23), utc(29, 23))
