"""A contact's mail repeating word for word what they wrote within a day, with no other clue to
a ticket, joins the ticket the first one opened: a customer who resends a request because no
answer came yet gets no second ticket (staff see the resend on the first), and a careless
auto-responder answering our confirmation with a fresh subject stops after one round."""

from __future__ import annotations

import json

from conftest import add_contact, mail
from sqlmodel import select

from gateway.store.tables import Event, Message, Ticket

ALICE = "alice@customer.example"
REQUEST = "My site example.org shows an error 500 since this morning."


def tickets(gw) -> list[Ticket]:
    with gw.db.read() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def joined_by_repeat(gw) -> list[Event]:
    with gw.db.read() as session:
        replied = session.exec(select(Event).where(Event.kind == "customer-replied")).all()
    return [e for e in replied if json.loads(e.detail)["via"] == "repeat"]


def test_a_resent_request_joins_the_first_ticket_unconfirmed(gateway, clock):
    add_contact(gateway.db, ALICE)
    gateway.send(mail(subject="Site down", body=REQUEST))
    gateway.settle()
    clock.advance(hours=3)
    resent = REQUEST.upper().replace(" ", "  \n")  # case and spacing aside, the same words
    gateway.send(mail(subject="Site down (again!)", body=resent))
    gateway.settle()

    [ticket] = tickets(gateway)
    with gateway.db.read() as session:
        stored = session.exec(select(Message).where(Message.ticket_id == ticket.id)).all()
    assert len(stored) == 2 and [e.ticket_id for e in joined_by_repeat(gateway)] == [ticket.id]
    assert len(gateway.sink.to(ALICE)) == 1  # the one confirmation


def test_other_words_or_a_day_later_open_a_new_ticket(gateway, clock):
    add_contact(gateway.db, ALICE)
    add_contact(gateway.db, "bob@customer.example")
    gateway.send(mail(subject="Site down", body=REQUEST))
    gateway.send(mail(subject="Mail down", body="My mailbox refuses every message since noon."))
    gateway.send(mail(sender="bob@customer.example", subject="Site down", body=REQUEST))
    gateway.send(mail(subject="Thanks", body="Thanks!"))  # too short to tell
    gateway.send(mail(subject="Thanks again", body="Thanks!"))
    gateway.settle()
    assert len(tickets(gateway)) == 5
    clock.advance(hours=24, seconds=1)
    gateway.send(mail(subject="Site down", body=REQUEST))
    gateway.settle()
    assert len(tickets(gateway)) == 6 and joined_by_repeat(gateway) == []
