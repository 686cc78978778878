"""Attack: headers crafted to send Python's email package into an endless loop (bpo-37461 in
MIME parameters, bpo-37764 in unstructured headers when reading; bpo-33529 when folding a long
word of non-ASCII letters in a reply's Subject). With a patched CPython each is an ordinary
request: a ticket and a confirmation, in the time any mail takes; the parser's deadline is what
would hold it otherwise, and the mail behind it is served as usual."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

import pytest
from conftest import add_contact
from sqlmodel import select

from gateway.store.tables import Inbound, Quarantine, Ticket

ALICE = "alice@customer.example"
SUPPORT = "support@support.example"

CRAFTED = {
    # get_parameter looped on a DQUOTE in an extended (RFC 2231) parameter value
    "bpo-37461": (
        b"Subject: Invoice question\r\n"
        b"Content-Type: text/plain; charset*=utf-8''\"a\"b\r\n"
        b'Content-Disposition: inline; filename*0*=""""\r\n'
    ),
    # get_unstructured looped on an encoded word followed by letters with no space
    "bpo-37764": b"Subject: =?utf-8?q?somevalue?=aa\r\n",
}


def request(headers: bytes, number: int, text: bytes) -> bytes:
    return (
        f"From: Alice <{ALICE}>\r\nTo: {SUPPORT}\r\n"
        f"Message-ID: <request-{number}@customer.example>\r\n".encode()
        + headers
        + b"\r\n"
        + text
        + b"\r\n"
    )


def send(gw, data: bytes) -> int:
    with gw.smtp() as client:
        client.ehlo()
        client.mail(ALICE)
        client.rcpt(SUPPORT)
        return client.data(data)[0]


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_header_becomes_an_ordinary_ticket(start_gateway, name):
    gw = start_gateway(limits={"parse_timeout_seconds": 5})
    add_contact(gw.db, ALICE)
    assert send(gw, request(CRAFTED[name], 1, b"My site is down since this morning.")) == 250
    assert send(gw, request(b"Subject: Mail\r\n", 2, b"And my mail does not arrive.")) == 250
    gw.settle(timeout=30)
    with gw.db.read() as session:
        assert [row.status for row in session.exec(select(Inbound))] == ["done", "done"]
        assert list(session.exec(select(Quarantine))) == []
        assert len(list(session.exec(select(Ticket)))) == 2
    assert len(gw.sink.to(ALICE)) == 2  # both confirmed


def test_long_non_ascii_word_in_subject_is_folded_in_the_confirmation(gateway):
    add_contact(gateway.db, ALICE)
    word = "ą" * 200  # no space to fold at: the folder looped on such a word (bpo-33529)
    message = EmailMessage(policy=policy.SMTP)
    message["From"], message["To"], message["Subject"] = ALICE, SUPPORT, word
    message.set_content("See the subject.")
    assert gateway.send(message)[0] == 250
    gateway.settle()
    (confirmation,) = gateway.sink.to(ALICE)
    head = confirmation.raw.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    subject = str(confirmation.message["Subject"])
    assert word in subject
