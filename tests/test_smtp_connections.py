"""What hostile SMTP clients get, over real connections to the listener: a cap on connections
from one address and in all (the next one is told 421 and closed; other addresses are still
served), slow clients that hold up no one, a second message smuggled inside DATA with a bare
line feed or carriage return around the dot (stored as part of the one message), and lines
too long for the protocol."""

from __future__ import annotations

import smtplib
import socket
import time

import pytest
from conftest import add_contact
from sqlmodel import func, select

from gateway.store.tables import Inbound, Ticket

ALICE, BOB = "alice@customer.example", "bob@customer.example"
SUPPORT = "support@support.example"


def stored(db) -> list[Inbound]:
    with db.read() as session:
        return list(session.exec(select(Inbound).order_by(Inbound.id)))


def tickets(db) -> int:
    with db.read() as session:
        return session.exec(select(func.count(Ticket.id))).one()


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))


def replies(sock: socket.socket, count: int = 1) -> list[bytes]:
    """The next `count` complete replies (multi-line ones joined), or fewer if it closes."""
    found: list[bytes] = []
    buffer = b""
    while len(found) < count:
        while b"\r\n" not in buffer:
            chunk = sock.recv(4096)
            if not chunk:
                return found
            buffer += chunk
        line, buffer = buffer.split(b"\r\n", 1)
        if line[3:4] != b"-":
            found.append(line)
    return found


def talk(sock: socket.socket, *lines: bytes) -> list[bytes]:
    """Send each command and read its reply."""
    answers = []
    for line in lines:
        sock.sendall(line + b"\r\n")
        answers.extend(replies(sock))
    return answers


def message(subject: str, body: bytes) -> bytes:
    return (
        f"From: {ALICE}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n"
        f"Message-ID: <m-{subject.replace(' ', '-')}@customer.example>\r\n\r\n"
    ).encode() + body


def greeted_when_a_place_is_free(port: int, deadline_seconds: float = 10) -> bytes:
    """The greeting of a new connection once the listener has seen a closed one go."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        with connect(port) as sock:
            [greeting] = replies(sock)
            if greeting.startswith(b"220") or time.monotonic() > deadline:
                return greeting


@pytest.fixture
def capped(start_gateway):
    gw = start_gateway(smtp={"max_connections_per_ip": 3, "max_connections": 10})
    add_contact(gw.db, ALICE)
    add_contact(gw.db, BOB)
    return gw


def test_connections_beyond_the_per_address_cap_get_421_others_are_served(capped):
    port = capped.gw.smtp_port
    held = [smtplib.SMTP("127.0.0.1", port, timeout=10) for _ in range(3)]
    with connect(port) as fourth:
        refusal = replies(fourth)
        assert refusal == [b"421 4.7.0 Too many connections from your address; "
                           b"please try again later"]  # fmt: skip
        assert fourth.recv(100) == b""  # and closed
    with smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0)) as other:
        other.sendmail(BOB, [SUPPORT], message("From elsewhere", b"Hello\r\n"))
    capped.settle()
    assert tickets(capped.db) == 1
    held.pop().quit()
    assert greeted_when_a_place_is_free(port).startswith(b"220")
    for client in held:
        client.quit()


def test_connections_beyond_the_total_cap_get_421(start_gateway):
    gw = start_gateway(smtp={"max_connections_per_ip": 0, "max_connections": 2})
    port = gw.gw.smtp_port
    held = [smtplib.SMTP("127.0.0.1", port, timeout=10, source_address=(f"127.0.0.{n}", 0))
            for n in (2, 3)]  # fmt: skip
    with connect(port, source="127.0.0.4") as third:
        assert replies(third) == [b"421 4.7.0 Too many connections right now; "
                                  b"please try again later"]  # fmt: skip
    for client in held:
        client.quit()


def test_slow_clients_hold_up_no_one(capped):
    port = capped.gw.smtp_port
    dripping = connect(port, source="127.0.0.2")
    replies(dripping)
    dripping.sendall(b"EHLO slow.example\r\nMAIL FR")  # and nothing more for now
    in_data = connect(port, source="127.0.0.3")
    replies(in_data)
    assert talk(in_data, b"EHLO slow.example", f"MAIL FROM:<{BOB}>".encode(),
                f"RCPT TO:<{SUPPORT}>".encode(), b"DATA")[-1].startswith(b"354")  # fmt: skip
    in_data.sendall(message("Slowly", b"The first half of my request"))
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as quick:
        quick.sendmail(ALICE, [SUPPORT], message("Quickly", b"Served while others dawdle\r\n"))
    in_data.sendall(b", and the second half.\r\n.\r\n")
    assert replies(in_data)[0].startswith(b"250")
    capped.settle()
    assert [row.message_id for row in stored(capped.db)] == [
        "<m-Quickly@customer.example>",
        "<m-Slowly@customer.example>",
    ]
    assert b"first half of my request, and the second half." in stored(capped.db)[1].raw
    dripping.close()
    in_data.close()


@pytest.mark.parametrize("fake_end", [b"\n.\r\n", b"\r.\r", b"\n.\n", b"\r\n.\n", b"\r.\r\n"])
def test_a_message_smuggled_inside_data_stays_part_of_the_one_message(capped, fake_end):
    smuggled = (
        b"MAIL FROM:<eve@evil.example>\r\nRCPT TO:<" + SUPPORT.encode() + b">\r\nDATA\r\n"
        b"From: bob@customer.example\r\nSubject: Smuggled\r\n\r\nClose my account\r\n"
    )
    with connect(capped.gw.smtp_port) as sock:
        replies(sock)
        talk(sock, b"EHLO client.example", f"MAIL FROM:<{ALICE}>".encode(),
             f"RCPT TO:<{SUPPORT}>".encode(), b"DATA")  # fmt: skip
        sock.sendall(message("Carrier", b"Hello" + fake_end + smuggled) + b"\r\n.\r\n")
        sock.sendall(b"QUIT\r\n")
        answers = replies(sock, 10)
    assert [a[:3] for a in answers] == [b"250", b"221"]
    capped.settle()
    [row] = stored(capped.db)
    assert row.mail_from == ALICE and b"Close my account" in row.raw
    assert tickets(capped.db) == 1


def test_lines_too_long_for_smtp_are_refused_and_the_session_goes_on(capped):
    with connect(capped.gw.smtp_port) as sock:
        replies(sock)
        assert talk(sock, b"EHLO client.example")[0].startswith(b"250")
        [long_command] = talk(sock, b"NOOP " + b"x" * 600)
        assert long_command.startswith(b"500")
        talk(sock, f"MAIL FROM:<{ALICE}>".encode(), f"RCPT TO:<{SUPPORT}>".encode(), b"DATA")
        sock.sendall(message("Long line", b"y" * 1200 + b"\r\n") + b"\r\n.\r\n")
        [long_line] = replies(sock)
        assert long_line.startswith(b"500")
        [ok] = talk(sock, f"MAIL FROM:<{ALICE}>".encode())
        assert ok.startswith(b"250")  # the same connection serves on
    assert stored(capped.db) == []


@pytest.fixture
def hurried(start_gateway):
    """Deadlines short enough to meet in a test: half a second a command, two for a message."""
    gw = start_gateway(smtp={"command_timeout_seconds": 0.5, "data_timeout_seconds": 2})
    add_contact(gw.db, ALICE)
    return gw


def test_a_client_dripping_a_command_is_cut_off_at_the_command_deadline(hurried):
    """Research case 5: aiosmtpd's deadline runs from one whole command to the next, so bytes
    dripped one at a time do not keep a connection open."""
    with connect(hurried.gw.smtp_port) as dripping:
        replies(dripping)
        assert talk(dripping, b"EHLO slow.example")[0].startswith(b"250")
        dripping.sendall(b"MAIL FR")
        dripping.sendall(b"O")  # and nothing more
        assert replies(dripping, 2) == [b"421 4.4.2 Timeout: closing the connection"]
    assert stored(hurried.db) == []


def test_a_message_has_longer_than_a_command_then_is_cut_off(hurried):
    with connect(hurried.gw.smtp_port) as slow:
        replies(slow)
        talk(slow, b"EHLO slow.example", f"MAIL FROM:<{ALICE}>".encode(),
             f"RCPT TO:<{SUPPORT}>".encode())  # fmt: skip
        slow.sendall(b"DATA\r\n")
        assert replies(slow)[0].startswith(b"354")
        began = time.monotonic()
        slow.sendall(message("Half", b"The first half of my request"))
        assert replies(slow, 2) == [b"421 4.4.2 Timeout: closing the connection"]
        assert time.monotonic() - began >= 1.5  # the message's deadline, not the command's
    assert stored(hurried.db) == []
    with smtplib.SMTP("127.0.0.1", hurried.gw.smtp_port, timeout=10) as quick:
        quick.sendmail(ALICE, [SUPPORT], message("Whole", b"Sent in time\r\n"))
    assert [row.message_id for row in stored(hurried.db)] == ["<m-Whole@customer.example>"]
