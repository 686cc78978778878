"""Saved replies: `/canned NAME` in a staff reply puts the operator's text, in the customer's
language and written for them, below the author's own words; an unknown name is refused with
the names there are, and nothing is sent."""

from __future__ import annotations

import test_staff_flow
from conftest import add_contact, mail
from test_staff_flow import last, open_ticket, staff_mail

desk = test_staff_flow.desk
ALICE, SAM = "alice@customer.example", "agent@support.example"


def test_a_saved_reply_is_written_for_the_customer_below_the_authors_words(desk):
    open_ticket(desk, subject="DNS", body="My new A record does not work yet.")
    desk.send(staff_mail(last(desk, SAM), "/canned dns-propagation\nI checked your zone."))
    desk.settle()
    text = last(desk, ALICE).text()
    assert text.index("I checked your zone.") < text.index("Hello Alice,")
    assert "at most 48 hours" in text and "Sam Agent" in text
    assert "{{" not in text and "/canned" not in text


def test_a_french_customer_gets_the_french_text(desk):
    add_contact(desk.db, "claire@customer.example", name="Claire", account="Alice Co", lang="fr")
    desk.send(mail(sender="claire@customer.example", subject="DNS", body="Mon DNS ?"))
    desk.settle()
    desk.send(staff_mail(last(desk, SAM), "/canned dns-propagation"))
    desk.settle()
    text = last(desk, "claire@customer.example").text()
    assert "Bonjour Claire," in text and "48 heures au" in text


def test_an_unknown_saved_reply_is_refused_with_the_names_there_are(desk):
    open_ticket(desk)
    before = len(desk.sink.to(ALICE))
    desk.send(staff_mail(last(desk, SAM), "/canned refund-policy\nSee below."))
    desk.settle()
    refused = last(desk, SAM).text()
    assert "no saved reply named 'refund-policy'; saved replies: dns-propagation" in refused
    assert len(desk.sink.to(ALICE)) == before
