"""Card numbers are never kept (invariant 7): masked in everything stored (even sealed) and in
every mail sent; the raw mail is replaced by a masked copy once processed; the customer is told
once per ticket, and staff see an event."""

from __future__ import annotations

import hashlib
import re
from email import message_from_bytes, policy

import pytest
from conftest import add_contact, mail
from privacy_scan import readable_text, stored_bytes
from sqlmodel import select
from test_staff_flow import AUTHSERV, add_staff, last, staff_mail

from gateway import compose
from gateway.store import repo
from gateway.store.tables import Event, Inbound, Ticket

ALICE = "alice@customer.example"
CARD = "4111 1111 1111 1111"  # Visa test number
AMEX = "3782-822463-10005"
DIGITS = ["4111111111111111", "378282246310005", "5555555555554444", "1111 1111", "822463"]


VERIFIED = (
    f"{AUTHSERV}; dkim=pass header.d=customer.example; dmarc=pass header.from=customer.example"
)


def card_mail():
    message = mail(
        subject=f"Payment with {CARD}",
        body=f"Hello,\nplease charge {CARD} (exp 12/27, CVV 737).\nOrder 20261123-0042.\n",
        Authentication_Results=VERIFIED,  # so the confirmation echoes the request
    )
    message.add_alternative(f"<p>My Amex: <b>{AMEX}</b></p>", subtype="html")
    message.add_attachment(f"card;{CARD}\n".encode(), maintype="text", subtype="csv",
                           filename="card_4111111111111111.csv")  # fmt: skip
    return message


@pytest.fixture
def desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"}
    )
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    return gw


def kept(text: str) -> list[str]:
    """The card digits (in any grouping we sent) still present, compact or spaced."""
    compact = text.replace(" ", "").replace("-", "")
    return [d for d in DIGITS if d.replace(" ", "") in compact or d in text]


def everything_sent(gw) -> str:
    return "\n".join(m.raw.decode("utf-8", "replace") for m in gw.sink.received)


def test_card_numbers_are_kept_nowhere_and_the_customer_is_told_once(desk):
    sent = card_mail()
    desk.send(sent)
    desk.settle()
    assert kept(readable_text(desk.db)) == []  # what the gateway itself can decrypt
    assert kept(stored_bytes(desk.db).decode("utf-8", "replace")) == []
    assert kept(everything_sent(desk)) == []
    with desk.db.read() as session:
        [ticket] = session.exec(select(Ticket)).all()
        [message] = repo.ticket_messages(session, ticket.id)
        [attachment] = repo.message_attachments(session, message.id)
    assert ticket.subject == "Payment with 4111 11** **** 1111"  # first 6 and last 4 kept
    assert "CVV ***" in message.body_text and "Order 20261123-0042" in message.body_text
    assert attachment.filename == "card_411111******1111.csv"
    confirmation, notice = desk.sink.to("alice@customer.example")
    assert "4111 11** **** 1111" in confirmation.text()  # the echo is masked too
    assert notice.message["Auto-Submitted"] == "auto-replied"
    assert "never send a card number" in notice.text()
    assert "card number was removed" in str(notice.message["Subject"])
    assert notice.message["In-Reply-To"] == sent["Message-ID"]
    assert _events(desk, ticket.id).count("card-number-redacted") == 1
    # a follow-up quoting the number: masked again, an event, but no second notice
    desk.send(mail(subject=f"Re: [VB #{ticket.id}] Payment", body=f"> please charge {CARD}"))
    desk.settle()
    assert len(desk.sink.to("alice@customer.example")) == 2
    assert _events(desk, ticket.id).count("card-number-redacted") == 2
    assert kept(readable_text(desk.db)) == []


def test_raw_copy_is_replaced_by_a_masked_copy_with_the_original_digest(desk):
    sent = card_mail()
    raw = sent.as_bytes(policy=policy.SMTP)
    desk.send(raw, mail_from="alice@customer.example", to=["support@support.example"])
    desk.settle()
    with desk.db.read() as session:
        [row] = session.exec(select(Inbound)).all()
    assert row.original_sha256 == hashlib.sha256(raw).hexdigest()
    assert kept(row.raw.decode("utf-8", "replace")) == []
    copy = message_from_bytes(row.raw, policy=policy.default)
    assert copy["Message-ID"] == sent["Message-ID"] and copy["X-Gateway-Redacted"]
    assert str(copy["Subject"]) == "Payment with 4111 11** **** 1111"
    assert "CVV ***" in copy.get_body(("plain",)).get_content()
    assert [p.get_filename() for p in copy.iter_attachments()] == ["card_411111******1111.csv"]


def test_mail_without_card_numbers_keeps_its_raw_bytes(desk):
    sent = mail(body="Call me on +33 6 12 34 56 78, invoice FR76 3000 6000 0112 3456 7890 189.")
    raw = sent.as_bytes(policy=policy.SMTP)
    desk.send(raw, mail_from="alice@customer.example", to=["support@support.example"])
    desk.settle()
    with desk.db.read() as session:
        [row] = session.exec(select(Inbound)).all()
    assert row.raw == raw and row.original_sha256 == hashlib.sha256(raw).hexdigest()
    assert "card-number-redacted" not in _events(desk, None)
    assert len(desk.sink.to("alice@customer.example")) == 1  # the confirmation only


def test_message_ids_holding_card_like_digits_are_not_taken_for_cards(desk):
    desk.send(mail(body="My site is down."))
    desk.settle()
    confirmation = last(desk, ALICE).message
    # a reply threading to the confirmation and to a message whose client made a hex id
    # with a Luhn-valid Visa-range run of digits in it
    hex_id = "<3f4012888888881881e@mail.customer.example>"
    reply = mail(
        subject="Re: " + confirmation["Subject"], body="Thanks, it works again.",
        In_Reply_To=confirmation["Message-ID"], References=f"{hex_id} {confirmation['Message-ID']}",
    )  # fmt: skip
    raw = reply.as_bytes(policy=policy.SMTP)
    desk.send(raw, mail_from=ALICE, to=["support@support.example"])
    desk.settle()
    with desk.db.read() as session:
        rows = session.exec(select(Inbound).order_by(Inbound.id)).all()
        tickets = session.exec(select(Ticket)).all()
    assert rows[-1].raw == raw and len(tickets) == 1
    assert "card-number-redacted" not in _events(desk, None)
    assert len(desk.sink.to(ALICE)) == 1  # the confirmation only, no card notice


def test_the_gateways_message_ids_never_hold_a_card_length_run_of_digits():
    ids = [compose.new_message_id("support.example") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert not [i for i in ids if re.search(r"\d{13}", i)]


def test_staff_notes_and_replies_are_masked_without_a_customer_notice(desk):
    desk.send(mail(body="My site is down."))
    desk.settle()
    notification = last(desk, "agent@support.example")
    desk.send(staff_mail(notification, f"/note\nCustomer gave {CARD} on the phone"))
    desk.send(staff_mail(notification, f"We will not use {CARD}, please never send it."))
    desk.settle()
    assert kept(readable_text(desk.db)) == []
    assert kept(everything_sent(desk)) == []
    relayed = last(desk, "alice@customer.example")
    assert "4111 11** **** 1111" in relayed.text()
    subjects = [str(m.message["Subject"]) for m in desk.sink.to("alice@customer.example")]
    assert not [s for s in subjects if "card number was removed" in s]  # staff wrote it
    assert _events(desk, 1).count("card-number-redacted") == 2


def _events(gw, ticket_id) -> list[str]:
    with gw.db.read() as session:
        query = select(Event.kind)
        if ticket_id is not None:
            query = query.where(Event.ticket_id == ticket_id)
        return list(session.exec(query))


def test_outgoing_guard_masks_what_code_or_templates_add():
    draft = compose.Draft(
        "Example", "support@support.example", (compose.Recipient(ALICE),),
        subject="Card 5555 5555 5555 4444", text=f"On file: {CARD}\n> {AMEX}",
        html="<p>4111&nbsp;1111 <b>1111</b>\n1111</p>",
    )  # fmt: skip
    masked = compose.without_cards(draft)
    assert kept(masked.text + masked.subject + masked.html.replace("&nbsp;", " ")) == []
    assert "5555 55** **** 4444" in masked.subject
    plain = compose.Draft(
        "Example",
        "support@support.example",
        (),
        "Re: [VB #12] Site down",
        "[customer] 2026-11-23 09:00 UTC alice@customer.example\nOrder 4412",
    )
    assert compose.without_cards(plain) is plain  # nothing card-like: not even scanned
