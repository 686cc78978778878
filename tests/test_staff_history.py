"""Any staff member gets a customer's whole history by mail: `/history ADDRESS` in a new mail
lists every ticket of that contact's account, latest first, and the reading is audited; the
way it says to open one (/show with the tag) works. Nothing of it reaches a customer."""

from __future__ import annotations

import json

import test_staff_flow
from conftest import mail
from sqlmodel import select
from test_staff_flow import PASS, last, open_ticket, staff_mail

from gateway.store.tables import Event

desk = test_staff_flow.desk
ALICE, OPS, SAM = "alice@customer.example", "ops@customer.example", "agent@support.example"


def staff_new_mail(body: str, subject="History please"):
    message = mail(sender=f"Sam Agent <{SAM}>", subject=subject, body=body)
    message["Authentication-Results"] = PASS
    return message


def test_history_lists_every_ticket_of_the_account_and_is_audited(desk):
    first = open_ticket(desk, subject="Site down")
    second = open_ticket(desk, subject="Mailbox full")
    desk.send(mail(sender=OPS, subject="DNS question", body="How do I add a record?"))
    desk.settle()
    to_customers = len(desk.sink.to(ALICE)) + len(desk.sink.to(OPS))

    desk.send(staff_new_mail(f"/history {ALICE}"))
    desk.settle()
    history = last(desk, SAM)
    text = history.text()
    assert history.message["Subject"] == f"History of {ALICE}: 3 tickets"
    assert "Tickets of Alice Co (all its contacts), latest first." in text
    assert text.index("DNS question") < text.index("Mailbox full") < text.index("Site down")
    assert f"[VB #{first.id}]  new  opened 2026-11-23  by {ALICE}" in text
    assert f"by {OPS}" in text and f"[VB #{second.id}]" in text
    assert len(desk.sink.to(ALICE)) + len(desk.sink.to(OPS)) == to_customers
    with desk.db.read() as session:
        audit = session.exec(select(Event).where(Event.kind == "personal-data-access")).all()
    assert [(e.actor, json.loads(e.detail)["what"]) for e in audit] == [(SAM, "history by mail")]

    desk.send(staff_new_mail("/show", subject=f"[VB #{first.id}] Site down"))
    desk.settle()
    shown, receipt = desk.sink.to(SAM)[-2:]
    assert "My site is down." in shown.text() and "whole ticket mailed to you" in receipt.text()


def test_history_of_someone_unknown_or_on_a_ticket_is_refused(desk):
    desk.send(staff_new_mail("/history nobody@elsewhere.example"))
    desk.settle()
    refused = last(desk, SAM)
    assert "Not applied" in refused.message["Subject"]
    assert "nobody@elsewhere.example is not a contact" in refused.text()

    open_ticket(desk)
    desk.send(staff_mail(last(desk, SAM), f"/history {ALICE}"))
    desk.settle()
    assert "/history is not about this ticket" in last(desk, SAM).text()
