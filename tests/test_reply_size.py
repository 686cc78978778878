"""A staff reply too big for mail (`outbound.max_message_size`, counted as it goes on the wire,
files base64-encoded) is not sent: it is kept as an internal note with its files, and its
author is told at once, in the receipt, instead of hearing of a refusal later or never (the
customer's server may drop it silently)."""

from __future__ import annotations

import os

import pytest
from conftest import add_contact
from sqlmodel import select
from test_staff_flow import AUTHSERV, add_staff, last, open_ticket, staff_mail

from gateway.store.tables import Attachment, Message

ALICE = "alice@customer.example"


@pytest.fixture
def desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)},
        routing={"default_department": "Support"},
        outbound={"max_message_size": 200_000},
    )
    add_contact(gw.db, ALICE, name="Alice", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "second@support.example", "Kim Second")
    return gw


def reply_with_file(desk, size: int):
    message = staff_mail(last(desk, "agent@support.example"), "Here is the backup you asked.")
    message.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream",
                           filename="backup.tar.gz")  # fmt: skip
    return message


def test_a_reply_too_big_is_kept_and_its_author_told(desk):
    t = open_ticket(desk)
    before = len(desk.sink.to(ALICE))
    desk.send(reply_with_file(desk, 160_000))  # about 220,000 bytes once encoded
    desk.settle()
    assert len(desk.sink.to(ALICE)) == before
    receipt = last(desk, "agent@support.example").text()
    assert "NOT sent to the customer: with its files your reply would be about" in receipt
    with desk.db.read() as session:
        reply = session.exec(select(Message).order_by(Message.id.desc())).first()
        files = session.exec(select(Attachment).where(Attachment.message_id == reply.id)).all()
    assert (reply.ticket_id, reply.visibility) == (t.id, "internal")
    assert [f.filename for f in files] == ["backup.tar.gz"]
    note = last(desk, "second@support.example").message  # colleagues hear of it, files aside
    assert "Here is the backup" in note.get_body(preferencelist=("plain",)).get_content()
    assert list(note.iter_attachments()) == []


def test_a_reply_that_fits_is_sent_with_its_file(desk):
    open_ticket(desk)
    desk.send(reply_with_file(desk, 100_000))  # about 140,000 bytes
    desk.settle()
    reply = last(desk, ALICE).message
    [file] = list(reply.iter_attachments())
    assert file.get_filename() == "backup.tar.gz" and len(file.get_content()) == 100_000
