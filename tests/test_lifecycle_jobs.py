"""Other timed mail: a pending ticket is recalled to the customer after some days and resolved
after more; a resolved ticket closes after some days unless the customer writes first."""

from __future__ import annotations

import pytest
from conftest import add_contact, mail
from test_staff_flow import AUTHSERV, add_staff, last, open_ticket, staff_mail, ticket


@pytest.fixture
def desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)},
        routing={"default_department": "Support"},
        lifecycle={"pending_reminder_days": 3, "pending_resolve_days": 7, "close_resolved_days": 5},
    )
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    return gw


def reminders(gw) -> list:
    return [
        m for m in gw.sink.to("alice@customer.example") if "waiting for your answer" in m.text()
    ]


def pend(gw, clock):
    t = open_ticket(gw)
    gw.send(
        staff_mail(last(gw, "agent@support.example"), "/status pending\n\nCan you send the log?")
    )
    gw.settle()
    gw.wait_for(lambda: ticket(gw, t.id).pending_since is not None)
    assert ticket(gw, t.id).pending_since == clock.now
    return t


def test_pending_reminder_then_auto_resolve_then_close(desk, clock):
    t = pend(desk, clock)
    clock.advance(days=3, seconds=-1)
    assert desk.gw.jobs.run("pending") == 0
    clock.advance(seconds=1)
    assert desk.gw.jobs.run("pending") == 1
    assert desk.gw.jobs.run("pending") == 0
    desk.settle()
    [reminder] = reminders(desk)
    assert "resolved on 2026-11-30" in " ".join(reminder.text().split())  # pending + 7 days
    assert reminder.message["Reply-To"] == f"support+{t.reply_token}@support.example"
    clock.advance(days=4)
    assert desk.gw.jobs.run("pending") == 1
    row = ticket(desk, t.id)
    assert (row.status, row.resolved_at, row.pending_since) == ("resolved", clock.now, None)
    clock.advance(days=5, seconds=-1)
    assert desk.gw.jobs.run("close-resolved") == 0
    clock.advance(seconds=1)
    assert desk.gw.jobs.run("close-resolved") == 1
    assert ticket(desk, t.id).status == "closed"
    assert len(reminders(desk)) == 1


def test_a_customer_answer_stops_the_reminder(desk, clock):
    t = pend(desk, clock)
    clock.advance(days=1)
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Here is the log."))
    desk.settle()
    desk.wait_for(lambda: ticket(desk, t.id).pending_since is None)
    clock.advance(days=10)
    assert desk.gw.jobs.run("pending") == 0
    assert ticket(desk, t.id).status == "open" and reminders(desk) == []


def test_a_reply_before_closing_reopens(desk, clock):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/status resolved\n\nFixed."))
    desk.settle()
    clock.advance(days=2)
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Still broken for me."))
    desk.settle()
    clock.advance(days=10)
    assert desk.gw.jobs.run("close-resolved") == 0
    assert ticket(desk, t.id).status == "open"
