"""What the SMTP listener itself refuses, over real SMTP: size (SIZE and DATA), foreign
recipients, too many recipients, mail loops and unstorable envelope addresses. A refused
message leaves nothing behind, and the same connection goes on serving."""

from __future__ import annotations

import pytest
from conftest import add_contact, mail
from sqlmodel import func, select

from gateway.store.tables import Inbound, Ticket

ALICE = "alice@customer.example"
SUPPORT = "support@support.example"
LIMIT = 5000


def stored(db) -> int:
    with db.read() as session:
        return session.exec(select(func.count(Inbound.id))).one()


def sized(total: int) -> bytes:
    """A well-formed message of exactly `total` bytes as it goes over the wire."""
    head = (
        b"From: alice@customer.example\r\nTo: support@support.example\r\n"
        b"Subject: Logs\r\nMessage-ID: <sized@customer.example>\r\n\r\n"
    )
    line = b"x" * 98 + b"\r\n"
    body = line * ((total - len(head)) // len(line))
    return head + body + b"y" * (total - len(head) - len(body))


@pytest.fixture
def small(start_gateway):
    gw = start_gateway(smtp={"max_message_size": LIMIT})
    add_contact(gw.db, ALICE)
    return gw


def test_ehlo_advertises_the_configured_size(small):
    with small.smtp() as client:
        client.ehlo()
        assert client.has_extn("size")
        assert client.esmtp_features["size"] == str(LIMIT)


def test_mail_from_announcing_too_big_a_size_is_refused_in_plain_words(small):
    with small.smtp() as client:
        client.ehlo()
        code, text = client.mail(ALICE, options=[f"SIZE={LIMIT + 1}"])
        assert code == 552
        assert b"Message too big" in text and f"{LIMIT} bytes".encode() in text
        assert b"Error" not in text
        # The same connection can still send a message that fits.
        assert client.mail(ALICE, options=["SIZE=1000"])[0] == 250
        assert client.rcpt(SUPPORT)[0] == 250
        assert client.data(sized(1000))[0] == 250
    assert stored(small.db) == 1


def test_data_over_the_limit_gets_552_and_nothing_is_stored(small):
    with small.smtp() as client:
        client.ehlo()
        client.mail(ALICE)  # no SIZE announced: the limit is enforced on the data itself
        client.rcpt(SUPPORT)
        code, text = client.data(sized(LIMIT * 2))
        assert code == 552
        assert b"Message too big" in text and f"{LIMIT} bytes".encode() in text
        assert stored(small.db) == 0
        client.rset()
        client.mail(ALICE)
        client.rcpt(SUPPORT)
        assert client.data(sized(LIMIT - 500))[0] == 250
    small.settle()
    assert stored(small.db) == 1
    with small.db.read() as session:
        assert session.exec(select(func.count(Ticket.id))).one() == 1


@pytest.mark.parametrize(
    "rcpt",
    [
        "someone@elsewhere.example",
        "support@support.example.attacker.test",  # our domain as a prefix
        "support@evilsupport.example",
        "support@sub.support.example",
    ],
)
def test_recipient_outside_our_domains_is_refused(small, rcpt):
    with small.smtp() as client:
        client.ehlo()
        client.mail(ALICE)
        code, text = client.rcpt(rcpt)
        assert code == 550 and b"own domains" in text
        code, _ = client.docmd("DATA")
        assert code == 503  # no valid recipient: there is no message to take
    assert stored(small.db) == 0


def test_recipients_beyond_the_maximum_get_452_and_the_rest_is_delivered(start_gateway):
    gw = start_gateway(smtp={"max_recipients": 3})
    add_contact(gw.db, ALICE)
    accepted = [SUPPORT, "complaints@support.example", "sales@support.example"]
    with gw.smtp() as client:
        client.ehlo()
        client.mail(ALICE)
        for rcpt in accepted:
            assert client.rcpt(rcpt)[0] == 250
        code, text = client.rcpt("billing@support.example")
        assert code == 452 and b"Too many recipients" in text
        assert client.data(sized(800))[0] == 250
    with gw.db.read() as session:
        [row] = session.exec(select(Inbound)).all()
    assert row.rcpt_tos == '["' + '", "'.join(accepted) + '"]'


def with_received(count: int) -> bytes:
    hops = b"".join(
        f"Received: from relay{n}.example by relay{n + 1}.example; "
        f"Mon, 23 Nov 2026 08:{n % 60:02d}:00 +0000\r\n".encode()
        for n in range(count)
    )
    return hops + sized(600)


def test_more_than_fifty_received_headers_is_refused_as_a_loop(gateway):
    with gateway.smtp() as client:
        client.ehlo()
        client.mail(ALICE)
        client.rcpt(SUPPORT)
        code, text = client.data(with_received(51))
        assert code == 554 and b"loop" in text.lower()
        client.rset()
        client.mail(ALICE)
        client.rcpt(SUPPORT)
        assert client.data(with_received(50))[0] == 250
    assert stored(gateway.db) == 1


def with_header_of(size: int) -> bytes:
    """A mail whose header block is `size` bytes (up to the blank line), then a 300 KiB body."""
    head = f"From: {ALICE}\r\nTo: {SUPPORT}\r\n".encode()
    field = b"X-Padding: " + b"p" * 60 + b"\r\n"
    head += field * ((size - len(head)) // len(field))
    head += b"X-Last: " + b"q" * (size - len(head) - 8) + b"\r\n"
    return head + b"\r\n" + b"a line of the body\r\n" * (300 * 1024 // 20)


def test_a_header_over_the_limit_is_refused_in_plain_words(gateway):
    """Parsers slow down with a header's size (bpo-31449, gh-136063): the header block is
    capped at `smtp.max_header_bytes` (256 KiB); the body is not."""
    with gateway.smtp() as client:
        client.ehlo()
        client.mail(ALICE)
        client.rcpt(SUPPORT)
        code, text = client.data(with_header_of(262_145))
        assert code == 552 and b"header is over 262144 bytes" in text
        client.rset()
        client.mail(ALICE)
        client.rcpt(SUPPORT)
        assert client.data(with_header_of(262_144))[0] == 250
    assert stored(gateway.db) == 1


def command(client, line: bytes) -> tuple[int, bytes]:
    """Send one command as raw bytes (smtplib would refuse or re-encode these)."""
    client.send(line + b"\r\n")
    return client.getreply()


@pytest.mark.parametrize(
    "address",
    [
        b"x" * 400 + b"@stranger.example",
        b"a\x00b@stranger.example",
        b"a\x01b@stranger.example",
        b"caf\xe9@stranger.example",  # a Latin-1 byte: not UTF-8
    ],
    ids=["overlong", "nul", "control", "not-utf8"],
)
def test_unstorable_envelope_address_is_refused_not_deferred_forever(gateway, address):
    """Such an address cannot be kept (too long for the envelope column, a NUL PostgreSQL
    refuses, bytes no driver can encode), so a 451 would make the sender retry for days:
    it gets a 553 instead, and the connection goes on."""
    with gateway.smtp() as client:
        client.ehlo()
        code, text = command(client, b"MAIL FROM:<" + address + b">")
        assert code == 553, text
        assert client.mail(ALICE)[0] == 250
        code, text = command(client, b"RCPT TO:<" + address.split(b"@")[0] + b"@support.example>")
        assert code == 553, text
        assert client.rcpt(SUPPORT)[0] == 250
        assert client.data(sized(700))[0] == 250
    assert stored(gateway.db) == 1


def test_an_accepted_mail_from_a_long_but_valid_sender_is_stored(gateway):
    sender = "bounce+" + "v" * 200 + "@lists.customer.example"  # VERP-style, within limits
    add_contact(gateway.db, ALICE)
    code, _ = gateway.send(mail(), mail_from=sender, to=[SUPPORT])
    assert code == 250
    with gateway.db.read() as session:
        [row] = session.exec(select(Inbound)).all()
    assert row.mail_from == sender


def test_the_log_does_not_record_each_smtp_command_with_its_addresses(small, caplog):
    """aiosmtpd logs every command line at INFO; customers' addresses have no place there."""
    caplog.set_level("INFO")
    with small.smtp() as client:
        client.sendmail(ALICE, [SUPPORT], mail().as_bytes())
    assert stored(small.db) == 1
    assert not [r for r in caplog.records if ALICE in r.getMessage()]
