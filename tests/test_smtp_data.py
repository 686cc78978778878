"""The message after DATA: read into one buffer as aiosmtpd reads it, byte for byte, and within
a budget of bytes all sessions may hold (`smtp.max_bytes_in_flight`), past which a message is
answered 452 and its sender retries."""

from __future__ import annotations

import socket
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from conftest import free_port, mail
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from gateway.edges.smtp_in import ListenerController
from gateway.store.tables import Inbound

SIZE_LIMIT = 6000


class Recorder:
    def __init__(self):
        self.contents: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.contents.append(envelope.original_content)
        return "250 OK"


class StockController(Controller):
    """aiosmtpd itself, line by line, as the yardstick."""

    def factory(self):
        return SMTP(self.handler, **self.SMTP_kwargs)


@pytest.fixture(scope="module")
def servers():
    started = []
    for kind in (StockController, ListenerController):
        recorder = Recorder()
        controller = kind(
            recorder, hostname="127.0.0.1", port=free_port(), data_size_limit=SIZE_LIMIT,
            decode_data=False, enable_SMTPUTF8=True,
        )  # fmt: skip
        controller.start()
        started.append((controller, recorder))
    yield started
    for controller, _ in started:
        controller.stop()


def _session(port: int, stream: bytes) -> list[bytes]:
    """Every reply line to a session sending `stream` after DATA, then QUIT, as one client
    pipelining it all would."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"EHLO client.example\r\nMAIL FROM:<a@b.example>\r\n"
                     b"RCPT TO:<s@support.example>\r\nDATA\r\n" + stream + b"QUIT\r\n")  # fmt: skip
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return [line[:3] for line in received.split(b"\r\n") if line[3:4] == b" "]


_PIECES = st.sampled_from(
    [b"a", b"Subject: x", b".", b"..", b"\r\n", b"\n", b"\r", b"\r\n.\r\n", b"\n.\n", b"\r.\r",
     b".\r\n", b"x" * 400, b"\x00", b"\xc3\xa9", b" ", b"NOOP\r\n"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(pieces=st.lists(_PIECES, max_size=40), big=st.integers(0, 3))
def test_the_message_is_read_exactly_as_aiosmtpd_reads_it(servers, pieces, big):
    """Bare CR and LF, dots at line starts, lines over 1000 octets, messages over the size
    limit, a second end of data with commands behind it: same replies, same bytes kept."""
    stream = b"".join(pieces) + b"y" * (big * 2500) + b"\r\n.\r\n"
    (stock, stock_seen), (ours, ours_seen) = servers
    before = len(stock_seen.contents), len(ours_seen.contents)
    assert _session(ours.port, stream) == _session(stock.port, stream)
    assert ours_seen.contents[before[1] :] == stock_seen.contents[before[0] :]


def test_a_message_of_many_empty_lines_is_taken_whole(gateway):
    body = b"\r\n" * 200_000 + b".a line smtplib dot-stuffs\r\nend\r\n"
    raw = mail().as_bytes().replace(b"\n", b"\r\n") + body
    code, _ = gateway.send(raw, mail_from="alice@customer.example", to=["support@support.example"])
    assert code == 250
    with gateway.db.read() as session:
        [row] = session.exec(select(Inbound)).all()
    assert row.raw.endswith(body)  # its leading dot sent doubled, kept single


def test_past_the_budget_a_message_gets_452_and_the_next_one_250(start_gateway):
    gw = start_gateway(smtp={"max_bytes_in_flight": 65_536})
    big = mail(body="x" * 70 + ("\n" + "y" * 70) * 1500)  # about 106 KiB
    code, text = gw.send(big)
    assert code == 452 and b"try again" in text
    code, _ = gw.send(mail(body="A small one."))
    assert code == 250  # the budget was given back
    with gw.db.read() as session:
        assert len(session.exec(select(Inbound)).all()) == 1


def test_a_client_hanging_up_in_the_middle_of_a_message_keeps_nothing_counted(start_gateway):
    gw = start_gateway(smtp={"max_bytes_in_flight": 65_536})
    budget = gw.gw.controller.handler.data_budget
    part = (b"x" * 78 + b"\r\n") * 512  # 40 KiB of a message, never ended
    for _ in range(3):  # each would leave its 40 KiB counted, and the third would not fit
        with socket.create_connection(("127.0.0.1", gw.gw.smtp_port), timeout=10) as sock:
            sock.sendall(b"EHLO client.example\r\nMAIL FROM:<alice@customer.example>\r\n"
                         b"RCPT TO:<support@support.example>\r\nDATA\r\n")  # fmt: skip
            replies = sock.makefile("rb")
            while not replies.readline().startswith(b"354"):
                pass
            sock.sendall(part)
            assert until(lambda: budget.used == len(part))  # all of it read and counted
            sock.shutdown(socket.SHUT_RDWR)  # the reply reader holds the socket open otherwise
        assert until(lambda: budget.used == 0)  # the hang-up gave it back
    code, text = gw.send(mail(body="y" * 70 + ("\n" + "z" * 70) * 500))  # about 36 KiB
    assert code == 250, text


def until(condition, seconds: float = 10) -> bool:
    """Wait for the listener to have done something (not for time to pass)."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()
