"""The first-response clock: 24/7 by default, opening hours and holidays when configured, and a
pause measured in opening time (pure: no database, no clock)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.core import sla
from gateway.core.complaints import keyword_match, on_duty, parse_rota, round_robin

PARIS = "Europe/Paris"
OFFICE = sla.Calendar(
    PARIS,
    sla.parse_hours(("mon-fri 09:00-18:00",)),
    sla.parse_holidays(("2026-12-25",)),
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_is_24_7():
    opened = utc(2026, 11, 28, 23, 30)  # a Saturday night
    assert sla.first_response_due(opened, 60) == utc(2026, 11, 29, 0, 30)


@pytest.mark.parametrize(
    ("opened", "due"),
    [
        # Monday 10:00 Paris (09:00 UTC): one hour later, same day
        (utc(2026, 11, 23, 9, 0), utc(2026, 11, 23, 10, 0)),
        # Friday 17:30 Paris: 30 minutes on Friday, 30 on Monday from 09:00
        (utc(2026, 11, 27, 16, 30), utc(2026, 11, 30, 8, 30)),
        # Saturday: the clock starts on Monday at 09:00 Paris (08:00 UTC)
        (utc(2026, 11, 28, 12, 0), utc(2026, 11, 30, 9, 0)),
        # Christmas Eve 17:45 Paris: 15 minutes, then Christmas is a holiday, then Saturday
        # and Sunday are closed: the other 45 minutes on Monday 28th
        (utc(2026, 12, 24, 16, 45), utc(2026, 12, 28, 8, 45)),
    ],
)
def test_office_hours_and_holidays(opened, due):
    assert sla.first_response_due(opened, 60, OFFICE) == due


def test_summer_time_is_followed():
    # In July Paris is UTC+2: 09:00 local is 07:00 UTC
    assert OFFICE.add(utc(2026, 7, 4, 12, 0), 30) == utc(2026, 7, 6, 7, 30)


def test_pause_gives_back_the_opening_time_it_took():
    due = utc(2026, 11, 27, 9, 0)  # Friday 10:00 Paris
    paused = utc(2026, 11, 27, 8, 40)  # 20 opening minutes before the deadline
    resumed = utc(2026, 11, 30, 12, 0)  # Monday 13:00 Paris
    assert sla.resumed_due(OFFICE, due, paused, resumed) == utc(2026, 11, 30, 12, 20)
    always = sla.Calendar()
    assert sla.resumed_due(always, due, paused, resumed) == utc(2026, 11, 30, 12, 20)
    # a deadline already missed when the pause began does not move
    assert sla.resumed_due(OFFICE, due, utc(2026, 11, 27, 10), resumed) == due


def test_minutes_between_counts_only_opening_time():
    friday_evening, monday_morning = utc(2026, 11, 27, 16, 0), utc(2026, 11, 30, 9, 0)
    assert OFFICE.minutes_between(friday_evening, monday_morning) == 60 + 60


@pytest.mark.parametrize(
    "rule", ["mon-fri", "weekdays 9-5", "mon 18:00-09:00", "mon 09:00-25:00", "funday 09:00-10:00"]
)
def test_bad_rules_are_refused(rule):
    if rule == "mon-fri":
        assert len(sla.parse_hours((rule,))) == 5  # whole days are fine
        return
    with pytest.raises(ValueError):
        sla.parse_hours((rule,))


def test_departments_keep_their_own_calendar():
    calendars = sla.Calendars(sla.Calendar(), (("billing", OFFICE),))
    assert calendars.for_department("Billing") is OFFICE
    assert calendars.for_department("Support").always_open
    assert calendars.for_department(None).always_open


def test_rota_names_the_manager_on_duty():
    rota = parse_rota(("mon-fri 08:00-20:00=Alice@Support.example", "daily=bob@support.example"),
                      PARIS)  # fmt: skip
    assert on_duty(rota, utc(2026, 11, 23, 9, 0)) == "alice@support.example"
    assert on_duty(rota, utc(2026, 11, 28, 9, 0)) == "bob@support.example"  # Saturday
    with pytest.raises(ValueError):
        parse_rota(("mon-fri=nobody",), PARIS)


def test_round_robin_picks_who_waited_longest():
    assert round_robin([]) is None
    assert round_robin([(3, utc(2026, 1, 2)), (5, None), (4, None)]) == 4
    assert round_robin([(3, utc(2026, 1, 2)), (5, utc(2026, 1, 1))]) == 5


def test_keywords_match_whole_words_without_case_or_accents():
    words = ("réclamation", "plainte", "unacceptable", "mise en demeure")
    assert keyword_match("Je dépose une RECLAMATION.", words) == "réclamation"
    assert keyword_match("This is Unacceptable!", words) == "unacceptable"
    assert keyword_match("une Mise  en\ndemeure", words) == "mise en demeure"
    assert keyword_match("une complainte", words) is None
    assert keyword_match("nothing to see", ()) is None
