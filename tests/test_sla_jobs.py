"""The first-response clock end to end: a warning before the deadline to the staff involved, an
escalation to the department's managers at the deadline, each once; a pending ticket's clock
pauses and resumes when the customer writes. Time is the injected clock; jobs run by hand, by
two runners at once, and by two real schedulers on one database."""

from __future__ import annotations

import threading

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from test_staff_flow import AUTHSERV, add_staff, last, open_ticket, staff_mail, ticket

from gateway.store.tables import Event


def start_desk(start_gateway, **sections):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)},
        routing={"default_department": "Support"},
        **sections,
    )
    return gw


@pytest.fixture
def desk(start_gateway):
    gw = start_desk(start_gateway)
    seed(gw)
    return gw


def seed(gw):
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "second@support.example", "Kim Second")
    add_staff(gw.db, "boss@support.example", "Maria Boss", manager=True)
    add_staff(gw.db, "billboss@support.example", "Bill Boss", department="Billing", manager=True)


def about(gw, address: str, words: str) -> list:
    return [m for m in gw.sink.to(address) if words in m.text()]


def events(gw, kind: str) -> list[Event]:
    with gw.db.read() as session:
        return list(session.exec(select(Event).where(Event.kind == kind)))


def run(gw, name: str) -> int:
    done = gw.gw.jobs.run(name)
    gw.settle()
    return done


def test_warning_then_escalation_each_once_at_the_right_moment(desk, clock):
    t = open_ticket(desk)  # 09:00; first response due at 10:00
    assert ticket(desk, t.id).sla_due_at == clock.now.replace(hour=10)
    clock.advance(minutes=44, seconds=59)
    assert run(desk, "sla") == 0
    clock.advance(seconds=1)  # 09:45, fifteen minutes before
    assert run(desk, "sla") == 1
    assert run(desk, "sla") == 0
    for address in ("agent@support.example", "second@support.example"):
        [warning] = about(desk, address, "First response due at 2026-11-23 10:00 UTC")
        assert warning.message["Subject"] == f"[VB #{t.id}] Site down"
    assert not about(desk, "boss@support.example", "Deadline missed")
    clock.advance(minutes=14, seconds=59)
    assert run(desk, "sla") == 0
    clock.advance(seconds=1)  # 10:00
    assert run(desk, "sla") == 1
    clock.advance(hours=5)
    assert run(desk, "sla") == 0
    [escalation] = about(desk, "boss@support.example", "Deadline missed")
    assert "My site is down." in escalation.text()  # with the history
    assert not about(desk, "billboss@support.example", "Deadline missed")  # other department
    assert len(about(desk, "agent@support.example", "First response due")) == 1
    keys = sorted(e.dedupe_key for e in events(desk, "sla-warning") + events(desk, "sla-breach"))
    assert keys == [f"sla-breach:ticket:{t.id}:2026-11-23T10:00:00Z",
                    f"sla-warning:ticket:{t.id}:2026-11-23T10:00:00Z"]  # fmt: skip


def test_a_first_response_stops_the_clock(desk, clock):
    t = open_ticket(desk)
    clock.advance(minutes=20)
    desk.send(staff_mail(last(desk, "agent@support.example"), "Looking into it."))
    desk.settle()
    assert ticket(desk, t.id).first_response_at == clock.now
    clock.advance(hours=2)
    assert run(desk, "sla") == 0
    assert not about(desk, "boss@support.example", "Deadline missed")


def test_each_follow_up_is_answered_within_the_hour_too(desk, clock):
    """Tickets are answered in under an hour, every message of them, not the first only: a
    customer's follow-up after a reply starts the clock again, a second one before the answer
    keeps the first one's deadline, and staff hear of it before it passes and managers at it."""
    t = open_ticket(desk)
    clock.advance(minutes=10)
    desk.send(staff_mail(last(desk, "agent@support.example"), "Looking into it."))
    desk.settle()
    assert ticket(desk, t.id).reply_due_at is None  # 09:10: answered, nothing awaits
    clock.advance(minutes=20)  # 09:30
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Still down, any news?"))
    desk.settle()
    assert ticket(desk, t.id).reply_due_at == clock.now.replace(hour=10, minute=30)
    clock.advance(minutes=20)  # 09:50: a second message keeps the deadline
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Now the mail is down too."))
    desk.settle()
    assert ticket(desk, t.id).reply_due_at == clock.now.replace(hour=10, minute=30)
    assert "answer due 2026-11-23 10:30 UTC" in last(desk, "agent@support.example").text()

    clock.advance(minutes=25)  # 10:15
    assert run(desk, "sla") == 1
    [warning] = about(desk, "agent@support.example", "Answer due at 2026-11-23 10:30 UTC")
    assert "Now the mail is down too." in warning.text()
    clock.advance(minutes=15)  # 10:30
    assert run(desk, "sla") == 1
    assert about(desk, "boss@support.example", "the customer's latest message unanswered")
    assert run(desk, "sla") == 0

    desk.send(staff_mail(last(desk, "agent@support.example"), "Both fixed."))
    desk.settle()
    assert ticket(desk, t.id).reply_due_at is None
    clock.advance(hours=3)
    assert run(desk, "sla") == 0


def test_an_auto_reply_or_a_note_starts_no_clock_and_a_note_stops_none(desk, clock):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "Looking into it."))
    desk.settle()
    vacation = mail(subject=f"Re: [VB #{t.id}] Site down", body="I am away until Monday.",
                    Auto_Submitted="auto-replied")  # fmt: skip
    desk.send(vacation)
    desk.settle()
    assert ticket(desk, t.id).reply_due_at is None
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Back, still down."))
    desk.settle()
    due = ticket(desk, t.id).reply_due_at
    desk.send(staff_mail(last(desk, "agent@support.example"), "/note\nAsking the network team."))
    desk.settle()
    assert ticket(desk, t.id).reply_due_at == due  # a note answers no one


def test_pending_pauses_a_follow_ups_clock_too(desk, clock):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "Looking into it."))
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Still down."))
    desk.settle()  # 09:00: the answer is due at 10:00
    clock.advance(minutes=40)  # 09:40: 20 minutes left
    desk.send(staff_mail(last(desk, "agent@support.example"), "/status pending"))
    desk.settle()
    desk.wait_for(lambda: ticket(desk, t.id).pending_since is not None)
    clock.advance(hours=2)  # 11:40
    assert run(desk, "sla") == 0
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Here is the log."))
    desk.settle()
    desk.wait_for(lambda: ticket(desk, t.id).pending_since is None)
    assert ticket(desk, t.id).reply_due_at == clock.now.replace(hour=12, minute=0)


def test_pending_pauses_the_clock_and_the_customer_resumes_it(desk, clock):
    t = open_ticket(desk)  # due 10:00
    clock.advance(minutes=30)  # 09:30: 30 minutes left
    desk.send(staff_mail(last(desk, "agent@support.example"), "/status pending"))
    desk.settle()
    desk.wait_for(lambda: ticket(desk, t.id).pending_since is not None)
    assert ticket(desk, t.id).pending_since == clock.now
    clock.advance(hours=3)  # 12:30, long past the old deadline
    assert run(desk, "sla") == 0
    customer = mail(subject=f"Re: [VB #{t.id}] Site down", body="Here is the log you wanted.")
    desk.send(customer)
    desk.settle()
    desk.wait_for(lambda: ticket(desk, t.id).pending_since is None)
    row = ticket(desk, t.id)
    assert row.status == "open"
    assert row.sla_due_at == clock.now.replace(hour=13, minute=0)  # 12:30 + the 30 left
    clock.advance(minutes=15)  # 12:45
    assert run(desk, "sla") == 1
    assert about(desk, "agent@support.example", "First response due at 2026-11-23 13:00 UTC")
    assert [e.kind for e in events(desk, "sla-paused") + events(desk, "sla-resumed")] == [
        "sla-paused", "sla-resumed",
    ]  # fmt: skip


def test_two_job_runners_at_once_act_once(start_gateway, clock):
    first, second = start_desk(start_gateway), start_desk(start_gateway)
    seed(first)
    for n in range(3):
        first.send(mail(subject=f"Problem {n}"))
    first.settle()
    clock.advance(hours=1)  # every deadline passed
    barrier = threading.Barrier(2)
    done: list[int] = []

    def runner(gw):
        for _ in range(3):
            barrier.wait()
            done.append(gw.gw.jobs.run("sla"))

    threads = [threading.Thread(target=runner, args=(gw,)) for gw in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    first.settle()
    assert sum(done) == 3  # one escalation per ticket, whoever won
    assert len(events(first, "sla-breach")) == 3
    assert len(about(first, "boss@support.example", "Deadline missed")) == 3


def test_two_schedulers_on_one_database_warn_once(start_gateway, clock):
    gateways = [start_desk(start_gateway, jobs={"every_seconds": 1}) for _ in range(2)]
    seed(gateways[0])
    t = open_ticket(gateways[0])
    clock.advance(minutes=50)  # inside the warning window; the schedulers tick in real time
    for gw in gateways:
        start = gw.gw.jobs.runs["sla"]
        gw.wait_for(lambda gw=gw, start=start: gw.gw.jobs.runs["sla"] >= start + 3, timeout=30)
    gateways[0].settle()
    assert len(about(gateways[0], "agent@support.example", "First response due")) == 1
    assert [e.ticket_id for e in events(gateways[0], "sla-warning")] == [t.id]


def test_a_reopened_ticket_gets_a_new_deadline(desk, clock):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/status resolved\nFixed."))
    desk.settle()
    clock.advance(days=1)  # Tuesday 09:00: the customer writes again, the ticket reopens
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="It is down again."))
    desk.settle()
    reopened = ticket(desk, t.id)
    assert reopened.status == "open" and reopened.reply_due_at == clock.now.replace(hour=10)
    clock.advance(minutes=45)
    assert run(desk, "sla") == 1
    assert about(desk, "agent@support.example", "Answer due at 2026-11-24 10:00 UTC")


def test_a_deadline_missed_while_the_gateway_was_down_for_days_is_not_chased(desk, clock):
    open_ticket(desk)  # due Monday 10:00
    clock.advance(days=2, hours=1, minutes=1)  # Wednesday 10:01: over two days late
    assert run(desk, "sla") == 0
    assert not about(desk, "boss@support.example", "Deadline missed")


def test_an_urgent_ticket_is_due_within_fifteen_minutes_and_so_is_each_follow_up(desk, clock):
    t = open_ticket(desk)  # 09:00, due 10:00
    clock.advance(minutes=5)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/priority urgent"))
    desk.settle()
    assert ticket(desk, t.id).sla_due_at == clock.now.replace(minute=20)
    receipt = last(desk, "agent@support.example").text()
    assert "urgent: the answer is now due 2026-11-23 09:20 UTC" in receipt
    assert run(desk, "sla") == 1  # 09:05: fifteen minutes before, at once
    clock.advance(minutes=15)
    assert run(desk, "sla") == 1
    assert about(
        desk, "boss@support.example", "Deadline missed: no first response by 2026-11-23 09:20"
    )

    desk.send(staff_mail(last(desk, "agent@support.example"), "On it, fixed."))
    desk.settle()
    clock.advance(minutes=40)  # 10:00: the customer writes again on the urgent ticket
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Down again!"))
    desk.settle()
    assert ticket(desk, t.id).reply_due_at == clock.now.replace(minute=15)


def test_without_urgent_minutes_an_urgent_ticket_keeps_its_deadline(start_gateway, clock):
    gw = start_desk(start_gateway, sla={"urgent_minutes": 0})
    seed(gw)
    t = open_ticket(gw)
    gw.send(staff_mail(last(gw, "agent@support.example"), "/priority urgent"))
    gw.settle()
    assert ticket(gw, t.id).priority == "urgent"
    assert ticket(gw, t.id).sla_due_at == clock.now.replace(hour=10)
