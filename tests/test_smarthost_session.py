"""A delivery round's mail over one connection to a real smarthost, as MTAs send theirs: one
connection (and one STARTTLS and login, where set) for the round, a refusal that costs only its
own mail, a connection the smarthost closes opened anew, and an unreachable smarthost that
costs one timeout a round, not one a mail."""

from __future__ import annotations

import socket
import threading

import pytest
from aiosmtpd.controller import Controller
from conftest import SinkHandler, free_port
from test_delivery import build, events, outbox_rows, queue  # noqa: F401  (build is a fixture)

CUSTOMERS = [f"customer{n}@customer.example" for n in range(5)]


class Smarthost(SinkHandler):
    """The conftest sink, noting the connection (the client's port) each mail came over and
    each QUIT; `rset_responses` can queue answers to RSET."""

    def __init__(self):
        super().__init__()
        self.connections: list[int] = []
        self.quits = 0
        self.rset_responses: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.connections.append(session.peer[1])
        return await super().handle_DATA(server, session, envelope)

    async def handle_RSET(self, server, session, envelope):
        with self.lock:
            if self.rset_responses:
                return self.rset_responses.pop(0)
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        with self.lock:
            self.quits += 1
        return "221 Bye"


@pytest.fixture
def smarthost():
    handler = Smarthost()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), decode_data=False)
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


def received_by(smarthost: Smarthost) -> list[str]:
    return [rcpt for mail in smarthost.received for rcpt in mail.rcpt_tos]


def test_a_round_of_mail_goes_over_one_connection_closed_at_its_end(build, smarthost):  # noqa: F811
    gw = build(mode="smtp", host="127.0.0.1", port=smarthost.port)
    for customer in CUSTOMERS:
        queue(gw, customer)
    assert gw.delivery.run_once() == len(CUSTOMERS)
    assert received_by(smarthost) == CUSTOMERS
    assert len(set(smarthost.connections)) == 1
    assert smarthost.quits == 1  # no idle connection left waiting on the smarthost
    assert {row.status for row in outbox_rows(gw)} == {"sent"}
    queue(gw, "late@customer.example")  # the next round opens a connection of its own
    assert gw.delivery.run_once() == 1
    assert len(set(smarthost.connections)) == 2 and smarthost.quits == 2


def test_a_refused_mail_costs_only_itself(build, smarthost):  # noqa: F811
    gw = build(mode="smtp", host="127.0.0.1", port=smarthost.port)
    for customer in CUSTOMERS[:3]:
        queue(gw, customer)
    smarthost.responses.extend(["250 OK", "550 5.7.1 refused by policy"])
    assert gw.delivery.run_once() == 3
    first, refused, third = outbox_rows(gw)
    assert (first.status, refused.status, third.status) == ("sent", "failed", "sent")
    assert "550" in refused.last_error
    assert received_by(smarthost) == [CUSTOMERS[2]]  # the first one's 250 came from the queue
    assert len(set(smarthost.connections)) == 1
    assert [e["outbox_id"] for e in events(gw, "delivery-failed")] == [refused.id]


def test_a_connection_the_smarthost_closes_is_opened_again(build, smarthost):  # noqa: F811
    gw = build(mode="smtp", host="127.0.0.1", port=smarthost.port)
    for customer in CUSTOMERS[:3]:
        queue(gw, customer)
    smarthost.rset_responses.append("421 4.7.0 One message a connection, closing")
    assert gw.delivery.run_once() == 3
    assert received_by(smarthost) == CUSTOMERS[:3]  # none lost, none twice
    assert len(set(smarthost.connections)) == 2
    assert {row.status for row in outbox_rows(gw)} == {"sent"}


class SilentPort:
    """A port that takes connections and never says a word, counting them."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.socket.close()
        for connection in self.accepted:
            connection.close()


def test_a_silent_smarthost_costs_one_timeout_a_round_not_one_a_mail(build):  # noqa: F811
    silent = SilentPort()
    try:
        gw = build(mode="smtp", host="127.0.0.1", port=silent.port, timeout_seconds=1)
        for customer in CUSTOMERS[:3]:
            queue(gw, customer)
        assert gw.delivery.run_once() == 3
        rows = outbox_rows(gw)
        assert {row.status for row in rows} == {"pending"}  # tried again later, not given up
        assert all("timed out" in row.last_error for row in rows)
        assert len(silent.accepted) == 1
    finally:
        silent.close()
