"""New tickets start in the department of the address they were sent to (`routing.addresses`,
"billing@support.example=Billing"), with that department's opening hours for the first
response; any other address starts in the default department. A route to a department that
does not exist falls back to the default, and a malformed route stops start-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from test_cli import write_config
from test_staff_flow import AUTHSERV, add_staff, last, staff_mail

from gateway import customer_desk
from gateway.config import ConfigError, load
from gateway.store import directory
from gateway.store.tables import Ticket

ROUTES = ("billing@support.example=Billing", "abuse@support.example=Abuse")


@pytest.fixture
def desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)},
        routing={"default_department": "Support", "addresses": ROUTES},
        sla={"department_hours": ("Billing: mon-fri 13:00-17:00",)},
    )
    add_contact(gw.db, "alice@customer.example", name="Alice")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "bill@support.example", "Bill Ing", department="Billing")
    return gw


def newest(gw) -> Ticket:
    with gw.db.read() as session:
        return session.exec(select(Ticket).order_by(Ticket.id.desc())).first()


def department(gw, ticket: Ticket) -> str:
    with gw.db.read() as session:
        return session.get(directory.Department, ticket.department_id).name


def test_a_mail_to_billing_starts_in_billing_with_its_hours(desk, clock):
    desk.send(mail(to="billing@support.example", subject="Invoice", body="Invoice 12 is wrong."))
    desk.settle()
    ticket = newest(desk)
    assert department(desk, ticket) == "Billing"
    assert ticket.sla_due_at == clock.now.replace(hour=13) + timedelta(hours=1)  # opens at 13:00
    assert any("Invoice 12" in m.text() for m in desk.sink.to("bill@support.example"))
    assert desk.sink.to("agent@support.example") == []

    desk.send(mail(subject="Site down", body="My site is down."))
    desk.settle()
    ticket = newest(desk)
    assert department(desk, ticket) == "Support"
    assert ticket.sla_due_at == clock.now + timedelta(hours=1)


def test_a_follow_up_in_billing_is_due_by_billings_hours(desk, clock):
    desk.send(mail(to="billing@support.example", subject="Invoice", body="Invoice 12 is wrong."))
    desk.settle()
    ticket = newest(desk)
    clock.advance(minutes=10)
    desk.send(
        staff_mail(last(desk, "bill@support.example"), "Checking.", sender="bill@support.example")
    )
    desk.settle()
    clock.advance(minutes=10)  # 09:20, Billing opens at 13:00
    desk.send(mail(subject=f"Re: [VB #{ticket.id}] Invoice", body="And invoice 13?"))
    desk.settle()
    with desk.db.read() as session:
        due = session.get(Ticket, ticket.id).reply_due_at
    assert due == clock.now.replace(hour=14, minute=0)


def test_a_route_to_a_missing_department_falls_back_to_the_default(desk, caplog, monkeypatch):
    monkeypatch.setattr(customer_desk, "_MISSING", set())  # said once a process
    desk.send(mail(to="abuse@support.example", subject="Spam", body="You send spam."))
    desk.settle()
    assert department(desk, newest(desk)) == "Support"
    assert "no department named 'Abuse'" in caplog.text


@pytest.mark.parametrize(
    "entry", ["billing@support.example", "billing@elsewhere.example=Billing", "=Billing"]
)
def test_a_bad_route_names_the_key(tmp_path, entry):
    with pytest.raises(ConfigError, match="routing.addresses"):
        load(write_config(tmp_path, routing={"addresses": [entry]}), environ={})


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Question about my INVOICE 118", "Billing"),
        ("Ma facture est fausse", "Billing"),
        ("Refund request, order 7", "Billing"),
        ("Spam sent from my server", "Abuse"),
        ("My invoices page is slow", "Support"),  # a whole word, not a part of one
        ("Site down", "Support"),
    ],
)
def test_a_new_ticket_starts_where_its_subject_words_say(start_gateway, subject, expected):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)},
        routing={"default_department": "Support",
                 "keywords": ("Billing: invoice|facture|refund request", "Abuse: spam")},
    )  # fmt: skip
    add_contact(gw.db, "alice@customer.example", name="Alice")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "bill@support.example", "Bill Ing", department="Billing")
    add_staff(gw.db, "abe@support.example", "Abe Use", department="Abuse")
    gw.send(mail(subject=subject, body="Hello."))
    gw.settle()
    assert department(gw, newest(gw)) == expected


def test_an_address_route_comes_before_the_subject_words(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)},
        routing={"default_department": "Support", "addresses": ROUTES,
                 "keywords": ("Billing: invoice",)},
    )  # fmt: skip
    add_contact(gw.db, "alice@customer.example", name="Alice")
    add_staff(gw.db, "abe@support.example", "Abe Use", department="Abuse")
    add_staff(gw.db, "bill@support.example", "Bill Ing", department="Billing")
    gw.send(mail(to="abuse@support.example", subject="Invoice spam", body="Look at this."))
    gw.settle()
    assert department(gw, newest(gw)) == "Abuse"


def test_a_malformed_keyword_route_stops_start_up(tmp_path):
    with pytest.raises(ConfigError) as error:
        load(write_config(tmp_path, routing={"keywords": ["Billing invoice"]}))
    assert "routing.keywords" in str(error.value)
