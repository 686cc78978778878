"""The weekly report: gather the week's rows, compute the figures (`core.report`), render them
for mail, and queue one copy per staff member, each under its own once-only key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from gateway import compose, outbox
from gateway.core import report, threads
from gateway.notices import Company
from gateway.store import ratings, timed
from gateway.store.db import Database

BAR_COLOUR = "#2f6db5"


@dataclass(frozen=True)
class ReportSettings:
    timezone: str = "UTC"
    day: str = "mon"
    at: time = time(8, 0)
    min_ratings: int = 3
    lowest_count: int = 5
    review_at_most: int = 2  # a rating this low is marked reviewed or not (`rating_reviews`)


class WeeklyReport:
    def __init__(self, renderer: outbox.Renderer, company: Company, settings: ReportSettings):
        self.renderer, self.company, self.settings = renderer, company, settings

    def figures(self, db: Database, week: report.Week) -> report.Figures:
        with db.read() as session:
            tickets = ratings.report_tickets(session, week.start, week.end)
            complaints = ratings.report_complaints(session, week.start, week.end)
            rated = ratings.report_ratings(session, week.start, week.end)
            messages = ratings.report_messages(session, week.start, week.end)
        return report.compute(
            week, tickets, complaints, rated,
            min_ratings=self.settings.min_ratings, lowest_count=self.settings.lowest_count,
            messages=messages,
        )  # fmt: skip

    def due_week(self, now: datetime) -> report.Week:
        s = self.settings
        return report.week_due(now, s.timezone, s.day, s.at)

    def week(self, label: str) -> report.Week:
        return report.week_of(label, self.settings.timezone)

    def render(self, figures: report.Figures) -> outbox.Rendered:
        return self.renderer.render("weekly_report", self.company.language, self.context(figures))

    def send(self, db: Database, figures: report.Figures, now: datetime) -> int:
        """Queue the report to every active staff member; returns how many were new."""
        rendered = self.render(figures)
        sent = 0
        with db.write() as session:
            for member in ratings.report_recipients(session):
                key = f"weekly-report:{figures.week.label}:staff:{member.id}"
                if not timed.claim(session, key, now, "weekly-report-sent", actor=member.email,
                                   detail={"week": figures.week.label}):  # fmt: skip
                    continue
                self._queue(session, member, rendered, now)
                sent += 1
        return sent

    def _queue(self, session, member, rendered: outbox.Rendered, now: datetime) -> None:
        company = self.company
        draft = compose.Draft(
            from_name=company.name,
            from_address=company.support_address,
            to=(compose.Recipient(member.email, member.name),),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            auto_submitted="auto-generated",
            language=company.language,
            loop_domain=company.domain,
        )
        outbox.enqueue(session, draft, kind="weekly-report", ticket_id=None,
                       envelope_from=company.bounce_address, now=now,
                       message_domain=company.domain)  # fmt: skip

    def context(self, f: report.Figures) -> dict:
        tag = self.company.tag
        top = max((s.average for s in f.scores), default=0) or 1
        return {
            "company": self.company.name,
            "week": f.week.label,
            "first_day": f.week.start.date().isoformat(),
            "last_day": (f.week.end - timedelta(days=1)).date().isoformat(),
            "opened": f.opened,
            "resolved": f.resolved,
            "answered": f.answered,
            "median": duration(f.median_first_response),
            "p90": duration(f.p90_first_response),
            "within_15": percent(f.within_15_minutes),
            "within_60": percent(f.within_1_hour),
            "within_15_bar": bar(f.within_15_minutes),
            "within_60_bar": bar(f.within_1_hour),
            "follow_ups": f.follow_ups,
            "follow_median": duration(f.median_follow_up_answer),
            "follow_within_60": percent(f.follow_ups_within_1_hour),
            "follow_within_60_bar": bar(f.follow_ups_within_1_hour),
            "complaints": [
                {
                    "tag": threads.subject_tag(tag, c.ticket_id),
                    "manager": c.manager or "-",
                    "answer": duration(c.minutes) if c.minutes is not None else "",
                }
                for c in f.complaints
            ],  # fmt: skip
            "complaint_median": duration(f.median_complaint_answer),
            "scores": [
                {
                    "staff": s.staff,
                    "count": s.count,
                    "average": f"{s.average:.2f}",
                    "bar": bar(s.average / top),
                }
                for s in f.scores
            ],  # fmt: skip
            "rating_count": f.rating_count,
            "lowest": [
                {
                    "tag": threads.subject_tag(tag, r.ticket_id),
                    "staff": r.staff,
                    "score": r.score,
                    "comment": " ".join(r.comment.split())[:200],
                    "reviewed_by": r.reviewed_by,
                    "poor": r.score <= self.settings.review_at_most,
                }
                for r in f.lowest
            ],  # fmt: skip
            "best": {
                "staff": f.best.staff,
                "average": f"{f.best.average:.2f}",
                "count": f.best.count,
            }
            if f.best
            else None,  # fmt: skip
            "min_ratings": self.settings.min_ratings,
            "colour": BAR_COLOUR,
        }


def duration(minutes: float | None) -> str:
    """ "7 min", "1 h 05", "2 d 3 h": short and unambiguous in both languages."""
    if minutes is None:
        return "-"
    whole = round(minutes)
    if whole < 60:
        return f"{whole} min"
    hours, rest = divmod(whole, 60)
    if hours < 24:
        return f"{hours} h {rest:02d}"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.0f} %"


def bar(share: float | None) -> int:
    """A bar's width in percent (at least 1 so a small value still shows)."""
    return 0 if not share else max(1, min(100, round(share * 100)))
