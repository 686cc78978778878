"""Complaints to management over real SMTP: taken in at once (customer confirmation naming the
manager in charge, escalation mail with the whole history to that manager), escalated level by
level while no manager answers publicly, never resolved before that, and keywords that only
suggest."""

from __future__ import annotations

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from test_staff_flow import AUTHSERV, add_staff, last, open_ticket, staff_mail, ticket

from gateway.store.tables import Complaint, Event

LEVELS = ("ceo@support.example", "chair@support.example")


def start(start_gateway, **complaints):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)},
        routing={"default_department": "Support"},
        complaints={"levels": LEVELS, **complaints},
    )
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_contact(gw.db, "bob@customer.example", name="Bob", account="Bob Co", lang="fr")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "maria@support.example", "Maria Manager", manager=True)
    add_staff(gw.db, "paul@support.example", "Paul Manager", manager=True)
    add_staff(gw.db, "ceo@support.example", "Carla Ceo", department="Board", manager=True)
    add_staff(gw.db, "chair@support.example", "Chris Chair", department="Board", manager=True)
    return gw


@pytest.fixture
def desk(start_gateway):
    return start(start_gateway)


def about(gw, address: str, words: str) -> list:
    return [m for m in gw.sink.to(address) if words in m.text()]


def complaint(gw, number) -> Complaint | None:
    with gw.db.read() as session:
        return session.get(Complaint, number)


def escalations(gw) -> list[str]:
    with gw.db.read() as session:
        rows = session.exec(select(Event).where(Event.kind == "complaint-escalated"))
        return [e.dedupe_key for e in rows]


def complain(gw, sender="alice@customer.example", body="Nobody answers, this is unacceptable."):
    gw.send(mail(sender=sender, to="complaints@support.example", subject="Angry", body=body))
    gw.settle()
    with gw.db.read() as session:
        from gateway.store.tables import Ticket

        number = session.exec(select(Ticket.id).order_by(Ticket.id.desc())).first()
    gw.wait_for(lambda: complaint(gw, number) is not None)  # taken in right after processing
    gw.settle()
    return number


def test_complaint_is_confirmed_naming_the_manager_who_gets_the_history(desk, clock):
    number = complain(desk)
    taken = complaint(desk, number)
    assert taken.opened_at == clock.now and taken.manager_id is not None
    [confirmation] = about(desk, "alice@customer.example", "logged your complaint")
    assert confirmation.message["Subject"] == f"[VB #{number}] Your complaint is logged: Angry"
    assert "Maria Manager, a member of our management, is in charge" in confirmation.text()
    [escalation] = about(desk, "maria@support.example", "you are in charge")
    assert "this is unacceptable" in escalation.text()  # the whole history
    assert escalation.message["Reply-To"] == "support@support.example"
    assert not about(desk, "paul@support.example", "you are in charge")
    # round robin: the next complaint goes to the manager who waited longest
    second = complain(desk, sender="bob@customer.example", body="Inadmissible.")
    [french] = about(desk, "bob@customer.example", "réclamation")
    assert "Paul Manager, membre de notre direction" in french.text()
    assert complaint(desk, second).manager_id != taken.manager_id


def test_unanswered_complaint_climbs_each_level_once(desk, clock):
    number = complain(desk)
    runner = desk.gw.jobs
    clock.advance(hours=3, minutes=59)
    assert runner.run("complaints") == 0
    clock.advance(minutes=1)  # four hours without a manager's public answer
    assert runner.run("complaints") == 1
    assert runner.run("complaints") == 0
    desk.settle()
    [first] = about(desk, "ceo@support.example", "escalated to you (level 1)")
    assert "In charge: Maria Manager" in first.text() and "unacceptable" in first.text()
    clock.advance(hours=4)
    assert runner.run("complaints") == 1
    clock.advance(hours=4)
    assert runner.run("complaints") == 0  # no level left
    desk.settle()
    assert len(about(desk, "chair@support.example", "escalated to you (level 2)")) == 1
    assert escalations(desk) == [f"complaint-escalation:ticket:{number}:level:1",
                                 f"complaint-escalation:ticket:{number}:level:2"]  # fmt: skip


def test_a_manager_answer_stops_the_escalation(desk, clock):
    complain(desk)
    clock.advance(hours=1)
    notice = about(desk, "maria@support.example", "you are in charge")[-1]
    desk.send(staff_mail(notice, "We are sorry; here is what we do.",
                         sender="maria@support.example"))  # fmt: skip
    desk.settle()
    clock.advance(hours=9)
    assert desk.gw.jobs.run("complaints") == 0
    assert escalations(desk) == []


def test_complaint_cannot_be_resolved_before_a_manager_answers(desk, clock):
    number = complain(desk)
    notice = about(desk, "maria@support.example", "you are in charge")[-1]
    desk.send(staff_mail(notice, "/status resolved", sender="agent@support.example"))
    desk.settle()
    error = last(desk, "agent@support.example")
    assert "Not applied" in error.message["Subject"]
    assert "cannot be resolved or closed until a manager has answered" in error.text()
    assert ticket(desk, number).status != "resolved"
    # a manager may answer and resolve in one mail
    desk.send(staff_mail(notice, "/status resolved\n\nWe refunded you. Our apologies.",
                         sender="maria@support.example"))  # fmt: skip
    desk.settle()
    assert ticket(desk, number).status == "resolved"
    assert "We refunded you" in last(desk, "alice@customer.example").text()


def test_complaint_command_takes_a_ticket_in(desk):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/complaint"))
    desk.settle()
    desk.wait_for(lambda: complaint(desk, t.id) is not None)
    desk.settle()
    assert ticket(desk, t.id).category == "complaint"
    assert about(desk, "alice@customer.example", "logged your complaint")
    assert about(desk, "maria@support.example", "you are in charge")


def test_keywords_only_suggest_once(start_gateway):
    gw = start(start_gateway, keywords=("réclamation", "unacceptable"))
    t = open_ticket(gw, body="This delay is UNACCEPTABLE.")
    gw.wait_for(lambda: about(gw, "agent@support.example", "may be a complaint"))
    gw.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Je fais une réclamation."))
    gw.settle()
    gw.gw.jobs.run("complaints")
    gw.settle()
    [suggestion] = about(gw, "agent@support.example", "may be a complaint")
    assert (
        'the customer wrote "unacceptable"' in suggestion.text()
        and "/complaint" in suggestion.text()
    )
    assert ticket(gw, t.id).category == "request"  # a suggestion decides nothing
    assert complaint(gw, t.id) is None


def test_complaint_words_in_later_mail_are_still_found(start_gateway, clock):
    """Each run reads only the mail the runs before did not; what comes after is read too,
    on another ticket and on a ticket read before."""
    gw = start(start_gateway, keywords=("unacceptable",))
    quiet = open_ticket(gw, body="My site is slow.")
    gw.gw.jobs.run("complaints")
    clock.advance(minutes=30)
    loud = open_ticket(gw, subject="Mail down", body="This is unacceptable.")
    clock.advance(hours=2)
    gw.send(mail(subject=f"Re: [VB #{quiet.id}] Site down", body="Still slow: unacceptable."))
    gw.settle()
    gw.gw.jobs.run("complaints")
    gw.settle()

    suggestions = about(gw, "agent@support.example", "may be a complaint")
    assert sorted(s.message["Subject"] for s in suggestions) == sorted(
        [f"[VB #{quiet.id}] Site down", f"[VB #{loud.id}] Mail down"]
    )


def test_rota_names_the_manager_on_duty(start_gateway):
    gw = start(start_gateway, rota=("mon-fri 08:00-20:00=paul@support.example",))
    number = complain(gw)  # Monday 09:00 UTC
    assert about(gw, "alice@customer.example", "Paul Manager, a member of our management")
    assert about(gw, "paul@support.example", "you are in charge")
    assert complaint(gw, number).manager_id is not None
