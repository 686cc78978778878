"""A customer's history by mail: `[history]` in a subject brings back, to the address on file,
the whole public exchange of a ticket or the list of the requests they may follow, and nothing
they may not see; the mail opens no ticket and joins none."""

from __future__ import annotations

import test_staff_flow
from conftest import add_contact, mail
from sqlmodel import select
from test_staff_flow import last, staff_mail
from trustkit import INTERN, RITA, RUTH, make_reseller

from gateway.store.tables import Event, Message, Ticket

ALICE = "alice@customer.example"
OPS = "ops@customer.example"
NOTE_CANARY = "NOTE-ONLY-FOR-STAFF-7f3a"
desk = test_staff_flow.desk  # Alice and Ops of Alice Co, three staff members


def tickets(gw) -> list[Ticket]:
    with gw.db.read() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def message_count(gw) -> int:
    with gw.db.read() as session:
        return len(session.exec(select(Message)).all())


def a_ticket_with_an_answer_and_a_note(gw, subject="Site down", sender=ALICE) -> Ticket:
    gw.send(mail(sender=sender, subject=subject, body=f"{subject}: please help."))
    gw.settle()
    notification = last(gw, "agent@support.example")
    gw.send(staff_mail(notification, "We restarted the web server; it answers again."))
    gw.send(staff_mail(notification, f"/note\n{NOTE_CANARY} the disk is nearly full"))
    gw.settle()
    return tickets(gw)[-1]


def test_the_whole_public_exchange_of_a_ticket_comes_back_without_internal_notes(desk):
    ticket = a_ticket_with_an_answer_and_a_note(desk)
    confirmation = desk.sink.to(ALICE)[0].message
    assert "reply with [history] added to the subject" in desk.sink.to(ALICE)[0].text()
    before, stored = len(desk.sink.to(ALICE)), message_count(desk)
    desk.send(mail(subject=f"Re: [VB #{ticket.id}] Site down [history]", body="",
                   In_Reply_To=confirmation["Message-ID"]))  # fmt: skip
    desk.settle()
    history = last(desk, ALICE)
    assert len(desk.sink.to(ALICE)) == before + 1
    assert f"[VB #{ticket.id}]" in str(history.message["Subject"])
    text = history.text()
    assert "Site down: please help." in text and "you wrote" in text
    assert "We restarted the web server" in text and "Sam Agent (" in text
    assert NOTE_CANARY not in history.raw.decode("utf-8", "replace")
    assert history.message["Reply-To"] == confirmation["Reply-To"]  # replying adds to it
    assert message_count(desk) == stored  # the request itself joins nothing
    assert not [m for m in desk.sink.received if m.raw.count(b"[history]") and
                "agent@support.example" in m.rcpt_tos]  # fmt: skip
    with desk.db.read() as session:
        [event] = session.exec(select(Event).where(Event.kind == "history-asked")).all()
    assert event.ticket_id == ticket.id


def test_a_mail_naming_no_ticket_gets_the_list_and_opens_none(desk):
    first = a_ticket_with_an_answer_and_a_note(desk, "Site down")
    second = a_ticket_with_an_answer_and_a_note(desk, "Mailbox full")
    desk.send(mail(subject="[History]", body="Thanks"))
    desk.settle()
    listing = last(desk, ALICE).text()
    assert len(tickets(desk)) == 2
    assert listing.index(f"[VB #{second.id}]") < listing.index(f"[VB #{first.id}]")
    assert "Mailbox full" in listing and "Site down" in listing
    assert "did not open a request" in listing


def test_a_user_sees_only_their_own_requests_and_an_owner_those_of_the_clients(desk):
    make_reseller(desk)
    alices = a_ticket_with_an_answer_and_a_note(desk, "Alice's site")
    interns = a_ticket_with_an_answer_and_a_note(desk, "Intern's site", sender=INTERN)
    for asker in (INTERN, ALICE, RITA, RUTH):
        desk.send(mail(sender=asker, subject="[history]", body=""))
    desk.settle()
    intern, alice = last(desk, INTERN).text(), last(desk, ALICE).text()
    rita, ruth = last(desk, RITA).text(), last(desk, RUTH).text()
    assert f"#{interns.id}]" in intern and f"#{alices.id}]" not in intern
    assert f"#{interns.id}]" in alice and f"#{alices.id}]" in alice  # an owner sees the account
    assert f"#{interns.id}]" in rita and f"#{alices.id}]" in rita  # and a reseller's owner too
    assert "#" not in ruth and "no request from you" in ruth  # a reseller's user: none


def test_someone_elses_ticket_number_gives_the_list_not_that_ticket(desk):
    add_contact(desk.db, "bob@other.example", name="Bob", account="Other Co")
    ticket = a_ticket_with_an_answer_and_a_note(desk)
    desk.send(mail(sender="bob@other.example", subject=f"[VB #{ticket.id}] [history]", body=""))
    desk.settle()
    answer = last(desk, "bob@other.example").text()
    assert "web server" not in answer and "Site down" not in answer
    assert "no request from you" in answer


def test_one_answer_an_hour_for_each_ticket_and_the_list(desk, clock):
    a_ticket_with_an_answer_and_a_note(desk)
    before = len(desk.sink.to(ALICE))
    for _ in range(3):
        desk.send(mail(subject="[history]", body=""))
    desk.settle()
    assert len(desk.sink.to(ALICE)) == before + 1  # a forged From cannot fill the mailbox
    clock.advance(hours=1)
    desk.send(mail(subject="[history]", body=""))
    desk.settle()
    assert len(desk.sink.to(ALICE)) == before + 2


def test_in_french_for_a_french_contact(desk):
    add_contact(desk.db, "claire@client.example", name="Claire", account="Client FR", lang="fr")
    a_ticket_with_an_answer_and_a_note(desk, "Site en panne", sender="claire@client.example")
    desk.send(mail(sender="claire@client.example", subject="[historique]", body=""))
    desk.settle()
    listing = last(desk, "claire@client.example")
    assert "vos demandes" in str(listing.message["Subject"])
    assert "Site en panne" in listing.text() and "ouverte le" in listing.text()


def test_automatic_mail_and_strangers_get_no_history(desk):
    a_ticket_with_an_answer_and_a_note(desk)
    before = len(desk.sink.to(ALICE))
    desk.send(mail(subject="[history]", body="I am away.", Auto_Submitted="auto-replied"))
    desk.send(mail(sender="eve@evil.example", subject="[history]", body=""))
    desk.settle()
    assert len(desk.sink.to(ALICE)) == before
    assert not [m for m in desk.sink.to("eve@evil.example") if "Site down" in m.text()]
