"""The composition root's part for timed actions and ratings: `app.Gateway` hands in the loaded
configuration and the shared parts, and gets back the jobs' context and the rating links.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from gateway import config_timed, jobs
from gateway.complaint_desk import ComplaintDesk, ComplaintSettings
from gateway.core.complaints import parse_rota
from gateway.notices import Company
from gateway.outbox import Renderer
from gateway.rating_links import RatingLinks
from gateway.staff_notices import StaffNotices
from gateway.store import mailflow
from gateway.timed_mail import TimedMail
from gateway.weekly_report import ReportSettings, WeeklyReport

KEY_NAME = "rating-links"  # the database's installation secret, when no key is configured


def rating_links(config, environ: Mapping[str, str] | None = None) -> RatingLinks:
    """Links signed with `[web] secret_env`, else `secret_file`, else a key in the database."""
    environ = os.environ if environ is None else environ
    web = config.web
    if web.secret_env:
        key = environ[web.secret_env].encode("utf-8")  # present: checked when loading

        def source(_session) -> bytes:
            return key
    elif web.secret_file:
        key = config.path(web.secret_file).read_bytes().strip()

        def source(_session) -> bytes:
            return key
    else:

        def source(session) -> bytes:
            return mailflow.installation_secret(session, KEY_NAME)

    return RatingLinks(source, web.base_url, config.ratings.link_days)


def job_context(
    config,
    renderer: Renderer,
    about: Company,
    staff_notices: StaffNotices,
    links: RatingLinks,
    approvals=None,
) -> jobs.JobContext:
    mail = TimedMail(renderer, about, links)
    cfg = config.complaints
    complaints = ComplaintDesk(
        staff_notices,
        mail,
        ComplaintSettings(
            answer_within=timedelta(hours=cfg.answer_hours),
            levels=tuple(address.lower() for address in cfg.levels),
            rota=parse_rota(cfg.rota, config.company.timezone),
            keywords=cfg.keywords,
        ),
    )
    report = WeeklyReport(
        renderer,
        about,
        ReportSettings(
            timezone=config.company.timezone,
            day=config.report.day,
            at=config_timed.report_time(config.report),
            min_ratings=config.report.min_ratings,
            lowest_count=config.report.lowest_count,
            review_at_most=config.ratings.review_at_most,
        ),
    )
    life = config.lifecycle

    def days(count: int) -> timedelta | None:
        return timedelta(days=count) if count else None

    settings = jobs.JobSettings(
        warn_before=timedelta(minutes=config.sla.warn_before_minutes),
        calendars=config_timed.calendars(config),
        satisfaction_after=timedelta(hours=config.ratings.request_after_hours),
        pending_reminder=days(life.pending_reminder_days),
        pending_resolve=days(life.pending_resolve_days),
        close_after=days(life.close_resolved_days),
        forget_held_after=days(life.held_days),
        forget_closed_after=days(life.forget_closed_days),
        held_digest_at=config_timed.held_digest_time(life),
        open_digest_at=config_timed.open_digest_time(life),
        review_at_most=config.ratings.review_at_most,
        timezone=config.company.timezone,
    )
    return jobs.JobContext(staff_notices, mail, complaints, report, settings, approvals)


def schedule_words(config) -> dict[str, str]:
    """When each job runs, in words, for `gateway jobs list`."""
    every = f"every {config.jobs.every_seconds} s"
    words = {job.name: every for job in jobs.JOBS}
    for name in jobs.IMMEDIATE:
        words[name] = f"{every}, and at once after incoming mail is processed"
    report = config.report
    words["weekly-report"] = f"every {report.day} at {report.time} ({config.company.timezone})"
    if config.lifecycle.held_digest_time:
        words["held-digest"] = (
            f"every day at {config.lifecycle.held_digest_time} ({config.company.timezone})"
        )
    else:
        words["held-digest"] = "never (lifecycle.held_digest_time is empty)"
    if config.lifecycle.open_digest_time:
        words["open-digest"] = (
            f"every day at {config.lifecycle.open_digest_time} ({config.company.timezone})"
        )
    else:
        words["open-digest"] = "never (lifecycle.open_digest_time is empty)"
    return words
