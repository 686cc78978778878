"""`gateway jobs list|run` and `gateway report weekly`: the timed actions by hand.

`jobs run NAME --now ISO-TIME` runs one job as if it were that moment (a time without an
offset is UTC); what it did is recorded exactly as when the scheduler runs it, so running it
twice, or beside a running gateway, does each action once.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime

from gateway import app_timed, jobs


def add_commands(sub, command) -> None:
    group = sub.add_parser("jobs", help="timed actions").add_subparsers()
    command("list", _jobs_list, "list the jobs and when they run", group).add_argument(
        "--json", action="store_true"
    )
    p = command("run", _jobs_run, "run one job now (or as of --now)", group)
    p.add_argument("name", choices=[job.name for job in jobs.JOBS])
    p.add_argument("--now", type=_moment, help="ISO time, e.g. 2026-11-30T08:00:00+01:00")

    group = sub.add_parser("report", help="reports").add_subparsers()
    p = command("weekly", _report_weekly, "preview (or --send) the weekly report", group)
    p.add_argument("--week", type=_week, help="ISO week, e.g. 2026-W48 (default: last week)")
    p.add_argument("--send", action="store_true", help="mail it to every staff member")
    p.add_argument("--html", action="store_true", help="print the HTML part instead")


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _week(text: str) -> str:
    if not re.fullmatch(r"\d{4}-W\d{2}", text.upper()):
        raise ValueError(text)
    return text.upper()


def _jobs_list(gw, args) -> int:
    words = app_timed.schedule_words(gw.config)
    rows = [{"name": j.name, "schedule": words[j.name], "does": j.summary} for j in jobs.JOBS]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        print(f"{row['name'].ljust(width)}  {row['schedule']}\n{' ' * width}  {row['does']}")
    return 0


def _jobs_run(gw, args) -> int:
    now = args.now or gw.clock()
    done = gw.jobs.run(args.name, now)
    print(f"{args.name} as of {now.isoformat()}: {done} action(s)")
    return 0


def _report_weekly(gw, args) -> int:
    report = gw.jobs.ctx.report
    try:
        week = report.week(args.week) if args.week else report.due_week(gw.clock())
    except ValueError as error:
        print(f"gateway: not an ISO week: {args.week} ({error})", file=sys.stderr)
        return 2
    figures = report.figures(gw.db, week)
    if args.send:
        sent = report.send(gw.db, figures, gw.clock())
        print(f"weekly report {week.label} queued for {sent} staff member(s)")
        return 0
    rendered = report.render(figures)
    print(rendered.html if args.html else f"Subject: {rendered.subject}\n\n{rendered.text}")
    return 0
