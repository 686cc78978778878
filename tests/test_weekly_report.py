"""The weekly report end to end: a week of real mail, replies and ratings, then the job on
Monday 08:00 in the company's time zone mails every staff member once (text and HTML with
inline bars), even with two runners at once; `gateway report weekly` previews it."""

from __future__ import annotations

import threading

import pytest
from conftest import add_contact, mail
from test_cli import run_cli, write_config
from test_complaint_flow import complaint
from test_rating_flow import fetch, links
from test_staff_flow import AUTHSERV, add_staff, last, open_ticket, staff_mail

MONDAY_8_PARIS = {"days": 7, "hours": -2}  # from Monday 23 Nov 09:00 UTC to 30 Nov 07:00 UTC


def start(start_gateway):
    return start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)},
        routing={"default_department": "Support"},
        company={"timezone": "Europe/Paris"},
        report={"min_ratings": 2},
    )


def a_week_of_work(gw, clock):
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "maria@support.example", "Maria Manager", manager=True)
    first = open_ticket(gw, subject="First")  # 09:00
    clock.advance(minutes=10)
    gw.send(staff_mail(last(gw, "agent@support.example"), "/status resolved\n\nFixed."))
    gw.settle()
    fetch(links(last(gw, "alice@customer.example"))[5], {"score": "5"})
    clock.advance(minutes=50)
    open_ticket(gw, subject="Second")  # 10:00
    clock.advance(minutes=90)
    notice = [m for m in gw.sink.to("agent@support.example") if "Second" in m.message["Subject"]]
    gw.send(staff_mail(notice[-1], "Done at last."))
    gw.settle()
    fetch(links(last(gw, "alice@customer.example"))[2], {"score": "2", "comment": "slow"})
    clock.advance(minutes=5)  # 11:35: a follow-up, answered 20 minutes later
    gw.send(mail(subject=f"Re: [VB #{first.id + 1}] Second", body="Still slow."))
    gw.settle()
    clock.advance(minutes=20)
    gw.send(staff_mail(last(gw, "agent@support.example"), "Better now?"))
    gw.settle()
    clock.advance(minutes=5)  # 12:00
    gw.send(mail(to="complaints@support.example", subject="Third", body="Unhappy."))
    gw.settle()
    gw.wait_for(lambda: complaint(gw, first.id + 2) is not None)
    gw.settle()
    clock.advance(minutes=30)
    charge = [m for m in gw.sink.to("maria@support.example") if "in charge" in m.text()][-1]
    gw.send(staff_mail(charge, "Our apologies.", sender="maria@support.example"))
    gw.settle()
    fetch(links(last(gw, "alice@customer.example"))[5], {"score": "5"})


def reports(gw, address) -> list:
    return [m for m in gw.sink.to(address) if "Weekly report" in m.message["Subject"]]


def test_monday_report_reaches_every_staff_member_once(start_gateway, clock):
    gw = start(start_gateway)
    a_week_of_work(gw, clock)
    clock.now = clock.now.replace(day=30, hour=6, minute=59)  # 07:59 in Paris
    gw.gw.jobs.run("weekly-report")
    gw.settle()
    assert [m.message["Subject"] for m in reports(gw, "agent@support.example")] == [
        "Weekly report 2026-W47 (2026-11-16 to 2026-11-22)"  # the week before, still due
    ]
    clock.now = clock.now.replace(hour=7, minute=0)  # Monday 08:00 in Paris
    assert gw.gw.jobs.run("weekly-report") == 2
    assert gw.gw.jobs.run("weekly-report") == 0
    gw.settle()
    for address in ("agent@support.example", "maria@support.example"):
        assert len(reports(gw, address)) == 2
    report = reports(gw, "maria@support.example")[-1]
    text = " ".join(report.text().split())
    for expected in (
        "Opened: 3 Resolved: 1 Answered (of those opened): 3",
        "First response: median 30 min, 90th percentile 1 h 30",
        "Answered within 15 minutes: 33 % within 1 hour: 67 %",
        "Follow-ups (customer messages after a reply): 1 answered within 1 hour: 100 % "
        "median answer 20 min",
        "[VB #3] in charge: Maria Manager manager's answer: 30 min",
        "Maria Manager 5.00 average over 1",
        "Sam Agent 3.50 average over 2",
        "Best-rated of the week: Sam Agent, 3.50 over 2 ratings.",
        '[VB #2] 2/5 Sam Agent "slow"',
    ):
        assert expected in text, expected
    html = report.message.get_body(preferencelist=("html",)).get_content()
    assert "width: 67%" in html and "width: 33%" in html  # the bars
    assert "<img" not in html and "http" not in html  # nothing to fetch
    assert report.message["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_runners_send_the_report_once(start_gateway, clock):
    first, second = start(start_gateway), start(start_gateway)
    a_week_of_work(first, clock)
    clock.advance(**MONDAY_8_PARIS)
    barrier, done = threading.Barrier(2), []

    def runner(gw):
        barrier.wait()
        done.append(gw.gw.jobs.run("weekly-report"))

    threads = [threading.Thread(target=runner, args=(gw,)) for gw in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first.settle()
    assert sorted(done) in ([0, 2], [1, 1])
    assert (
        len([m for m in reports(first, "agent@support.example") if "W48" in m.message["Subject"]])
        == 1
    )


def test_cli_previews_and_runs(start_gateway, clock, tmp_path, db_url, capsys):
    gw = start(start_gateway)
    a_week_of_work(gw, clock)
    cfg = write_config(tmp_path, db_url, company={"timezone": "Europe/Paris"})
    code, out, _ = run_cli(capsys, cfg, "report", "weekly", "--week", "2026-W48")
    assert code == 0 and "Subject: Weekly report 2026-W48" in out and "Opened: 3" in out
    assert reports(gw, "agent@support.example") == []  # a preview sends nothing
    code, out, _ = run_cli(capsys, cfg, "jobs", "list")
    assert code == 0 and "weekly-report" in out and "every mon at 08:00 (Europe/Paris)" in out
    now = "2026-11-30T08:00:00+01:00"
    code, out, _ = run_cli(capsys, cfg, "jobs", "run", "weekly-report", "--now", now)
    assert code == 0 and "2 action(s)" in out
    code, out, _ = run_cli(capsys, cfg, "jobs", "run", "weekly-report", "--now", now)
    assert "0 action(s)" in out
