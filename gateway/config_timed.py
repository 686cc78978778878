"""Configuration sections of the timed actions: complaints, ratings, ticket lifecycle, the
weekly report and the job interval, with the checks that make a bad value stop start-up.

Read by `config.load` like every other section (same `GATEWAY_<SECTION>_<KEY>` overrides).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time

from gateway.core import complaints, report, sla


@dataclass(frozen=True)
class ComplaintsConfig:
    answer_hours: int = 4  # a manager must answer publicly within this, or the next level is told
    levels: tuple[str, ...] = ()  # staff addresses, one per escalation level after the manager
    rota: tuple[str, ...] = ()  # "mon-fri 08:00-20:00=manager@..."; empty: round robin
    keywords: tuple[str, ...] = ()  # words that suggest a complaint to staff (FR or EN)


@dataclass(frozen=True)
class RatingsConfig:
    request_after_hours: int = 24  # satisfaction request this long after resolution
    link_days: int = 30  # rating links stop working after this
    review_at_most: int = 2  # a rating this low goes to the managers for review (0: none)


@dataclass(frozen=True)
class LifecycleConfig:
    pending_reminder_days: int = 3  # remind the customer of a pending ticket (0: never)
    pending_resolve_days: int = 7  # then resolve it (0: never)
    close_resolved_days: int = 7  # resolved tickets close after this without a reply (0: never)
    held_days: int = (
        30  # held mail is forgotten after this: bytes shredded, sender dropped (0: kept)
    )
    held_digest_time: str = "08:00"  # daily list of held mail to the managers ("": none)
    forget_closed_days: int = 0  # closed tickets' words and files go after this (0: kept)
    open_digest_time: str = "08:00"  # daily list of each staff member's open tickets ("": none)


@dataclass(frozen=True)
class ReportConfig:
    day: str = "mon"
    time: str = "08:00"  # in the company's time zone
    min_ratings: int = 3  # ratings a staff member needs to be named best of the week
    lowest_count: int = 5  # lowest-rated replies listed for review


@dataclass(frozen=True)
class JobsConfig:
    every_seconds: int = 60  # how often timed actions are looked for


MIN_SECRET = 16

SECTIONS: dict[str, type] = {
    "complaints": ComplaintsConfig,
    "ratings": RatingsConfig,
    "lifecycle": LifecycleConfig,
    "report": ReportConfig,
    "jobs": JobsConfig,
}


def validate(config, fail: Callable[[str, str, str], None], environ: Mapping[str, str]) -> None:
    """Check the words of the timed-action keys; `fail(section, key, problem)` raises."""
    _check_secret(config, fail, environ)
    timezone = config.company.timezone
    for key in ("hours", "holidays", "department_hours", "department_holidays"):
        try:
            _sla_value(key, getattr(config.sla, key))
        except ValueError as error:
            fail("sla", key, str(error))
    try:
        complaints.parse_rota(config.complaints.rota, timezone)
    except ValueError as error:
        fail("complaints", "rota", str(error))
    for address in config.complaints.levels:
        if address.count("@") != 1:
            fail("complaints", "levels", f"not an email address: {address!r}")
    if config.report.day not in report.DAYS:
        fail("report", "day", f"one of {', '.join(report.DAYS)}")
    try:
        report_time(config.report)
    except ValueError:
        fail("report", "time", f"expected HH:MM, got {config.report.time!r}")
    try:
        held_digest_time(config.lifecycle)
    except ValueError:
        fail("lifecycle", "held_digest_time", f'expected HH:MM or "", got '
             f"{config.lifecycle.held_digest_time!r}")  # fmt: skip
    try:
        open_digest_time(config.lifecycle)
    except ValueError:
        fail("lifecycle", "open_digest_time", f'expected HH:MM or "", got '
             f"{config.lifecycle.open_digest_time!r}")  # fmt: skip
    if config.lifecycle.forget_closed_days < 0:
        fail("lifecycle", "forget_closed_days", "must be 0 (kept) or more days")
    if not 0 <= config.ratings.review_at_most <= 5:
        fail("ratings", "review_at_most", "a score from 1 to 5, or 0 for no review mail")
    if config.jobs.every_seconds < 1:
        fail("jobs", "every_seconds", "must be at least 1")


def _check_secret(config, fail, environ: Mapping[str, str]) -> None:
    """The key that signs rating links must be there and long enough before we start."""
    web = config.web
    if web.secret_env:
        if len(environ.get(web.secret_env, "")) < MIN_SECRET:
            fail("web", "secret_env", f"{web.secret_env} must hold at least {MIN_SECRET} chars")
    elif web.secret_file:
        try:
            size = len(config.path(web.secret_file).read_bytes().strip())
        except OSError as error:
            fail("web", "secret_file", f"cannot read {web.secret_file}: {error.strerror}")
        if size < MIN_SECRET:
            fail("web", "secret_file", f"the key must be at least {MIN_SECRET} bytes")


def _sla_value(key: str, values: tuple[str, ...]) -> None:
    for value in values:
        if key.startswith("department_"):
            value = sla.split_department(value)[1]
        if key.endswith("hours"):
            sla.parse_hours((value,))
        else:
            sla.parse_holidays((value,))


def calendars(config) -> sla.Calendars:
    """The company calendar and each department's own (hours replace, holidays add up)."""
    timezone, cfg = config.company.timezone, config.sla
    holidays = sla.parse_holidays(cfg.holidays)
    default = sla.Calendar(timezone, sla.parse_hours(cfg.hours), holidays)
    hours: dict[str, list[str]] = {}
    extra: dict[str, list[str]] = {}
    for entry in cfg.department_hours:
        name, rule = sla.split_department(entry)
        hours.setdefault(name.lower(), []).append(rule)
    for entry in cfg.department_holidays:
        name, day = sla.split_department(entry)
        extra.setdefault(name.lower(), []).append(day)
    departments = []
    for name in sorted(set(hours) | set(extra)):
        windows = sla.parse_hours(tuple(hours[name])) if name in hours else default.windows
        days = holidays | sla.parse_holidays(tuple(extra.get(name, ())))
        departments.append((name, sla.Calendar(timezone, windows, days)))
    return sla.Calendars(default, tuple(departments))


def report_time(cfg: ReportConfig) -> time:
    return _clock_time(cfg.time)


def held_digest_time(cfg: LifecycleConfig) -> time | None:
    return _clock_time(cfg.held_digest_time) if cfg.held_digest_time else None


def open_digest_time(cfg: LifecycleConfig) -> time | None:
    return _clock_time(cfg.open_digest_time) if cfg.open_digest_time else None


def _clock_time(words: str) -> time:
    hours, _, minutes = words.partition(":")
    return time(int(hours), int(minutes))
