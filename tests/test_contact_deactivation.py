"""A contact who left the customer: staff deactivate them, and from then on their mail is held
as a stranger's (no ticket, no reply joins one), nothing of the customer's tickets is sent to
them (each withheld mail leaves an event), and the staff member whose reply reached no one is
told so. Activated again, they are a contact as before."""

from __future__ import annotations

import json

from conftest import mail
from sqlmodel import func, select
from test_db_outage import run_cli
from test_staff_flow import desk, events, last, open_ticket, staff_mail  # noqa: F401

from gateway.store.tables import Event, Message, Quarantine, Ticket

ALICE = "alice@customer.example"


def tickets(gw) -> int:
    with gw.db.read() as session:
        return session.exec(select(func.count(Ticket.id))).one()


def thread(gw, number) -> list[str]:
    with gw.db.read() as session:
        query = select(Message).where(Message.ticket_id == number)
        return [message.body_text for message in session.exec(query)]


def last_held(gw) -> Quarantine:
    with gw.db.read() as session:
        return session.exec(select(Quarantine).order_by(Quarantine.id.desc())).first()


def test_a_contact_who_left_opens_nothing_and_is_sent_nothing(desk, tmp_path):  # noqa: F811
    t = open_ticket(desk)
    notification = last(desk, "agent@support.example")

    out = run_cli(desk, tmp_path, "contacts", "deactivate", "Alice@Customer.example")
    assert out.splitlines() == [
        f"contact {ALICE} deactivated",
        f"tickets they opened, not closed (replies reach only those in copy): [{t.id}]",
    ]
    listed = json.loads(run_cli(desk, tmp_path, "contacts", "list", "--json"))
    assert {c["email"]: c["active"] for c in listed} == {ALICE: False, "ops@customer.example": True}

    sent_before = len(desk.sink.to(ALICE))
    desk.send(mail(subject="New site please", body="Please set up a second site for us."))
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="I still work here, honest."))
    desk.settle()
    assert tickets(desk) == 1
    assert not any("honest" in text for text in thread(desk, t.id))
    held = last_held(desk)
    assert (held.sender, held.reason) == (ALICE, "contact-deactivated")
    notices = desk.sink.to(ALICE)[sent_before:]  # the fixed notice to unknown senders, once
    assert len(notices) == 1 and "second site" not in notices[0].text()

    desk.send(staff_mail(notification, "Your site is back up."))
    desk.settle()
    assert len(desk.sink.to(ALICE)) == sent_before + 1  # the reply was not sent to her
    assert "mail-withheld" in events(desk, t.id)
    receipt = last(desk, "agent@support.example").text()
    assert "public reply recorded, but sent to no one" in receipt
    assert f"Not notified: {ALICE}: a deactivated contact" in receipt

    run_cli(desk, tmp_path, "contacts", "activate", ALICE)
    desk.send(mail(subject="New site please", body="Please set up a third site for us."))
    desk.settle()
    assert tickets(desk) == 2
    with desk.db.read() as session:
        kinds = [e.kind for e in session.exec(select(Event).where(Event.ticket_id.is_(None)))]
    assert "contact-deactivated" in kinds and "contact-activated" in kinds


def test_a_deactivated_contact_is_not_copied(desk, tmp_path):  # noqa: F811
    t = open_ticket(desk)
    notification = last(desk, "agent@support.example")
    run_cli(desk, tmp_path, "contacts", "deactivate", "ops@customer.example")
    desk.send(staff_mail(notification, "/cc add ops@customer.example\n\nCopying Ops."))
    desk.settle()
    receipt = last(desk, "agent@support.example").text()
    assert "ops@customer.example is a deactivated contact" in receipt
    assert desk.sink.to("ops@customer.example") == []
    assert ticket_ccs(desk, t.id) == 0


def ticket_ccs(gw, number) -> int:
    from gateway.store.tables import TicketCc

    with gw.db.read() as session:
        return len(list(session.exec(select(TicketCc).where(TicketCc.ticket_id == number))))


def test_a_contact_who_left_asking_for_their_data_is_held_saying_so(desk, tmp_path, clock):  # noqa: F811
    run_cli(desk, tmp_path, "contacts", "deactivate", ALICE)
    desk.send(mail(subject="Leaving", body="Please delete all my data, I left Alice Co."))
    desk.settle()
    held = last_held(desk)
    assert held.reason == "contact-deactivated"
    assert "it asks for the erasure of their personal data" in held.detail
    with desk.db.read() as session:
        [request] = session.exec(select(Event).where(Event.kind == "privacy-request")).all()
    assert request.actor == ALICE and json.loads(request.detail)["kind"] == "erase"
    clock.now = clock.now.replace(day=24, hour=8)  # the next morning's list of held mail
    desk.gw.jobs.run("held-digest")
    desk.settle()
    digest = last(desk, "agent@support.example")
    assert "asks for the erasure of their personal data" in digest.text()
