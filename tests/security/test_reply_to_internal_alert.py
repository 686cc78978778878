"""Attack (or slip): staff answer an alert meant for staff alone (a bounce, a permission answer
that did not count) after editing `[note]` out of its subject. The alert said their reply stays
internal; it does: nothing reaches the customer, and colleagues get it as a note."""

from __future__ import annotations

import test_staff_flow
from test_bounces import dsn
from test_staff_flow import last, open_ticket, staff_mail
from trustkit import (
    AGENT,
    ALICE,
    RUTH,
    answer,
    ask_permission,
    make_reseller,
    send,
    signed,
    staff_reply,
)
from trustkit import open_ticket as open_alice_ticket

from gateway.store import repo

desk = test_staff_flow.desk
CANARY = "CANARY-7f3e her old mailbox was closed, call her on the number we hold"


def without_note(subject: str) -> str:
    assert "[note]" in subject  # the alert itself says the reply stays internal
    return subject.replace(" [note]", "")


def visibility_of(gw, ticket_id: int, words: str) -> str:
    with gw.db.read() as session:
        [message] = [m for m in repo.ticket_messages(session, ticket_id) if words in m.body_text]
        return message.visibility


def test_reply_to_a_bounce_alert_with_its_subject_edited_stays_internal(desk):
    ticket = open_ticket(desk)
    [confirmation] = desk.sink.to(ALICE)
    report = dsn(confirmation.mail_from, confirmation.message["Message-ID"])
    assert desk.send(report, mail_from="", to=[confirmation.mail_from])[0] == 250
    desk.settle()
    alert = last(desk, "agent@support.example")
    assert "bounced" in alert.text() and "stays an internal note" in alert.text()

    subject = "Re: " + without_note(alert.message["Subject"])
    assert desk.send(staff_mail(alert, CANARY, subject=subject))[0] == 250
    desk.settle()

    assert desk.sink.to(ALICE) == [confirmation]
    assert visibility_of(desk, ticket.id, "CANARY-7f3e") == "internal"
    colleague = last(desk, "second@support.example")
    assert "CANARY-7f3e" in colleague.text() and "[note]" in colleague.message["Subject"]


def test_reply_to_a_refused_permission_answer_alert_stays_internal(verifying):
    make_reseller(verifying)
    ticket = open_alice_ticket(verifying)
    ask_permission(verifying)
    answer(verifying, RUTH, "APPROVE")
    alert = verifying.sink.to(AGENT)[-1]
    assert "Permission answer refused" in alert.text()
    before = len(verifying.sink.to(ALICE))

    reply = staff_reply(verifying, CANARY)
    reply.replace_header("Subject", "Re: " + without_note(alert.message["Subject"]))
    send(verifying, signed(reply, "support.example", "company"), AGENT)

    assert len(verifying.sink.to(ALICE)) == before
    assert visibility_of(verifying, ticket.id, "CANARY-7f3e") == "internal"
