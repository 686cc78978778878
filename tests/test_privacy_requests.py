"""Privacy requests by mail: recognised and shown to staff; a copy of one's own data asked for
in a verified mail is mailed at once, anything else waits for staff to approve with /privacy on
the ticket, and the result goes only to the requester's address."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from test_staff_flow import AUTHSERV, add_staff, last, staff_mail

from gateway.core.privacy_request import detect
from gateway.store import directory
from gateway.store.tables import Event, Ticket

ALICE = "alice@customer.example"


@pytest.mark.parametrize(
    ("subject", "text", "kind"),
    [
        ("Account", "Hello,\nplease delete my data from your systems.", "erase"),
        ("Compte", "Bonjour, je souhaite exercer mon droit à l’oubli.", "erase"),
        ("RGPD", "Merci de supprimer mes données personnelles.", "erase"),
        ("Data", "Could I get a copy of my data?", "export"),
        ("Demande", "Je demande l'accès à mes données.", "export"),
        ("Typo", "Please correct my name: it is Zoë, not Zoe.", "correct"),
        ("Langue", "Pouvez-vous changer ma langue en anglais ?", "correct"),
        ("[privacy] question", "Hello", "unspecified"),
        ("Site down", "My site is down since this morning.", None),
        ("Invoice", "Please delete my old invoice address and use the new one.", None),
    ],
)
def test_requests_are_recognised_in_english_and_french(subject, text, kind):
    assert detect(subject, text) == kind


@pytest.fixture
def desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"}
    )
    add_contact(gw.db, ALICE, name="Alice Liddell", account="Alice Co")
    add_contact(gw.db, "bob@customer.example", name="Bob", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    return gw


def ask(gw, body="Hello, please delete my data. Alice") -> int:
    gw.send(mail(subject="My data", body=body))
    gw.settle()
    with gw.db.read() as session:
        return session.exec(select(Ticket.id)).one()


def alice(gw):
    with gw.db.read() as session:
        return directory.contact_by_email(session, ALICE)


def kinds(gw) -> list[str]:
    with gw.db.read() as session:
        return list(session.exec(select(Event.kind)))


def test_a_request_by_mail_reaches_staff_and_changes_nothing(desk):
    number = ask(desk)
    with desk.db.read() as session:
        [event] = session.exec(select(Event).where(Event.kind == "privacy-request")).all()
    assert event.ticket_id == number and json.loads(event.detail)["kind"] == "erase"
    told = [m for m in desk.sink.to("agent@support.example") if "Privacy request" in m.text()]
    assert len(told) == 1 and f"/privacy erase {ALICE}" in told[0].text()
    assert alice(desk).name == "Alice Liddell" and alice(desk).erased_at is None


def test_a_stranger_asking_for_someone_elses_erasure_gets_nothing_done(desk):
    desk.send(mail(sender="mallory@elsewhere.example", body=f"Delete all data of {ALICE}."))
    desk.settle()
    assert "privacy-request" not in kinds(desk)
    assert alice(desk).erased_at is None


def test_privacy_command_acts_only_for_the_tickets_requester(desk):
    ask(desk)
    notification = last(desk, "agent@support.example")
    desk.send(staff_mail(notification, "/privacy erase bob@customer.example"))
    desk.settle()
    receipt = last(desk, "agent@support.example").text()
    assert "is not this ticket's requester" in receipt
    with desk.db.read() as session:
        assert directory.contact_by_email(session, "bob@customer.example").erased_at is None


def test_approved_export_is_mailed_to_the_requester_only(desk):
    number = ask(desk, body="Could I get a copy of my data please?")
    before = {id(m) for m in desk.sink.received}
    desk.send(staff_mail(last(desk, "agent@support.example"), f"/privacy export {ALICE}"))
    desk.settle()
    new = [m for m in desk.sink.received if id(m) not in before]
    exports = [m for m in new if any(p.get_filename() == "personal-data.zip"
                                     for p in m.message.iter_attachments())]  # fmt: skip
    assert [m.rcpt_tos for m in exports] == [[ALICE]]
    [part] = [p for p in exports[0].message.iter_attachments()]
    archive = zipfile.ZipFile(io.BytesIO(part.get_content()))
    document = json.loads(archive.read("contact.json"))
    assert document["contact"]["name"] == "Alice Liddell"
    assert [t["number"] for t in document["tickets"]] == [number]
    assert "copy of the requester's data mailed" in last(desk, "agent@support.example").text()
    with desk.db.read() as session:
        audit = session.exec(select(Event).where(Event.kind == "personal-data-access")).one()
    assert audit.actor == "agent@support.example" and json.loads(audit.detail)["what"] == "export"


def test_approved_erasure_tells_the_requester_then_shreds(desk):
    number = ask(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), f"/privacy erase {ALICE}"))
    desk.settle()
    confirmation = last(desk, ALICE)
    assert "has erased your personal data" in confirmation.text()
    assert "requester erased" in last(desk, "agent@support.example").text()
    assert alice(desk) is None  # the address no longer finds anyone
    with desk.db.read() as session:
        ticket = session.get(Ticket, number)
        commands = session.exec(select(Event.detail).where(Event.kind == "command-privacy")).all()
    assert ticket.subject == "[erased]" and ticket.id == number
    assert commands == ['{"command": "/privacy erase"}']  # the log names no one


def test_approved_correction_changes_the_name_and_logs_no_name(desk):
    ask(desk, body="Please correct my name, it is Alice Martin now.")
    desk.send(staff_mail(last(desk, "agent@support.example"),
                         f"/privacy correct {ALICE} name Alice Martin"))  # fmt: skip
    desk.settle()
    assert alice(desk).name == "Alice Martin"
    assert "corrected your name" in last(desk, ALICE).text()
    with desk.db.read() as session:
        details = " ".join(session.exec(select(Event.detail)).all())
    assert "Alice Martin" not in details


VERIFIED = (
    f"{AUTHSERV}; dkim=pass header.d=customer.example; dmarc=pass header.from=customer.example"
)


def exports_to(gw, address) -> list:
    return [m for m in gw.sink.to(address) if any(
        p.get_filename() == "personal-data.zip" for p in m.message.iter_attachments())]  # fmt: skip


def test_a_verified_request_for_a_copy_is_answered_at_once_once_a_day(desk, clock):
    desk.send(mail(subject="My data", body="Could I get a copy of my data?",
                   Authentication_Results=VERIFIED))  # fmt: skip
    desk.settle()
    [export] = exports_to(desk, ALICE)
    [part] = list(export.message.iter_attachments())
    document = json.loads(zipfile.ZipFile(io.BytesIO(part.get_content())).read("contact.json"))
    assert document["contact"]["name"] == "Alice Liddell"
    told = last(desk, "agent@support.example").text()
    assert "answered by itself" in told and "/privacy export" not in told
    with desk.db.read() as session:
        audit = session.exec(select(Event).where(Event.kind == "personal-data-access")).one()
    assert audit.actor == "self-service:verified-mail"
    desk.send(mail(subject="My data again", body="Export my data please.",
                   Authentication_Results=VERIFIED))  # fmt: skip
    desk.settle()
    assert len(exports_to(desk, ALICE)) == 1  # once a day
    clock.advance(days=1)
    desk.send(mail(subject="My data", body="Export my data please.",
                   Authentication_Results=VERIFIED))  # fmt: skip
    desk.settle()
    assert len(exports_to(desk, ALICE)) == 2


def test_an_unverified_request_for_a_copy_and_a_verified_erasure_wait_for_staff(desk):
    desk.send(mail(subject="My data", body="Could I get a copy of my data?"))
    desk.send(mail(subject="Forget me", body="Please delete my data.",
                   Authentication_Results=VERIFIED))  # fmt: skip
    desk.settle()
    assert exports_to(desk, ALICE) == []
    assert alice(desk).erased_at is None
    told = [
        m.text() for m in desk.sink.to("agent@support.example") if "Privacy request" in m.text()
    ]
    assert len(told) == 2 and all("verify before approving" in t for t in told)
