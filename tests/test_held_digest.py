"""Held mail is listed to the managers once a day (`lifecycle.held_digest_time`, company time):
the day's mail held with nobody told of it, by reason, with the commands that show and release
it; what a sender or staff member was already told of, or what needs no one (auto-replies), is
left out; the list names senders and reasons, never what strangers wrote."""

from __future__ import annotations

from conftest import add_contact, mail
from sqlmodel import select
from test_staff_flow import add_staff
from test_unknown_senders import CANARY_BODY, CANARY_SUBJECT, STRANGER, send, stranger_mail

from gateway.store import directory
from gateway.store.tables import Event, Quarantine

MANAGER, AGENT = "boss@support.example", "agent@support.example"


def digests(gw, address):
    return [m for m in gw.sink.to(address) if "Held mail of" in m.message["Subject"]]


def test_the_days_held_mail_is_listed_to_the_managers_once(gateway, clock):
    add_staff(gateway.db, MANAGER, "Bea Boss", manager=True)
    add_staff(gateway.db, AGENT, "Sam Agent")
    add_contact(gateway.db, "alice@customer.example")
    add_contact(gateway.db, "ops@customer.example")
    with gateway.db.write() as session:
        directory.set_contact_active(session, "alice@customer.example", False)
    # Monday 23 November, 09:00 (the company's time zone is UTC here): four mails held
    assert send(gateway, stranger_mail()) == 250
    assert send(gateway, mail(body="I left Acme, but still."), mail_from="alice@customer.example")
    vacation = mail(sender="ops@customer.example", body="I am away.", Auto_Submitted="auto-replied")
    assert send(gateway, vacation, mail_from="ops@customer.example") == 250
    away = stranger_mail(sender="away@elsewhere.example", Auto_Submitted="auto-replied")
    assert send(gateway, away, mail_from="away@elsewhere.example") == 250
    gateway.settle()
    with gateway.db.read() as session:
        reasons = sorted(q.reason for q in session.exec(select(Quarantine)))
    assert reasons == ["automatic", "automatic", "contact-deactivated", "unknown-sender"]

    assert gateway.gw.jobs.run("held-digest") == 0  # Monday's list (Sunday 08:00 on): empty
    clock.advance(hours=22, minutes=30)  # Tuesday 07:30: not yet
    assert gateway.gw.jobs.run("held-digest") == 0
    clock.advance(minutes=45)
    assert gateway.gw.jobs.run("held-digest") == 1
    gateway.settle()
    assert digests(gateway, AGENT) == []
    [digest] = digests(gateway, MANAGER)
    assert digest.message["Subject"] == "Held mail of 2026-11-24: 2 messages for no ticket"
    text = digest.text()
    assert "1 x sender is not a registered contact" in text
    assert "1 x sender is a deactivated contact" in text
    assert STRANGER in text and "alice@customer.example" in text
    assert "ops@customer.example" not in text  # auto-replies need no one
    assert "away@elsewhere.example" not in text
    assert "gateway held release ID" in text
    for secret in (CANARY_SUBJECT, CANARY_BODY, "I left Acme"):
        assert secret not in text

    assert gateway.gw.jobs.run("held-digest") == 0  # once a day
    with gateway.db.read() as session:
        kinds = [
            e.dedupe_key for e in session.exec(select(Event).where(Event.kind == "held-digest"))
        ]
    assert kinds == ["held-digest:2026-11-23", "held-digest:2026-11-24"]


def test_with_no_manager_every_active_member_gets_the_list(start_gateway, clock):
    gw = start_gateway(company={"language": "fr"})
    add_staff(gw.db, AGENT, "Sam Agent")
    assert send(gw, stranger_mail()) == 250
    gw.settle()
    clock.advance(days=1)
    assert gw.gw.jobs.run("held-digest") == 1
    gw.settle()
    [digest] = [m for m in gw.sink.to(AGENT) if "Messages retenus" in m.message["Subject"]]
    assert "1 x l'expéditeur n'est pas un contact enregistré" in digest.text()


def test_an_empty_time_sends_no_list(start_gateway, clock):
    gw = start_gateway(lifecycle={"held_digest_time": ""})
    add_staff(gw.db, MANAGER, "Bea Boss", manager=True)
    assert send(gw, stranger_mail()) == 250
    gw.settle()
    clock.advance(days=1)
    assert gw.gw.jobs.run("held-digest") == 0
