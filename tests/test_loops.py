"""Mail loops end: two gateways wired to each other, and a header-less auto-responder.

Both are real SMTP conversations over loopback: each gateway's outbound mail goes to the other
party's listener.
"""

from __future__ import annotations

import dataclasses
import smtplib
import threading
import time

from aiosmtpd.controller import Controller
from conftest import add_contact, free_port, mail, make_config
from sqlmodel import func, select

from gateway.app import Gateway
from gateway.store.tables import Message, Outbox, Quarantine, Ticket


def count(db, model):
    with db.read() as session:
        return session.exec(select(func.count()).select_from(model)).one()


def start(tmp_path, db_url, domain, listen_port, outbound_port, clock):
    config = make_config(
        tmp_path / domain, db_url, smtp={"port": listen_port},
        outbound={"mode": "smtp", "port": outbound_port},
    )  # fmt: skip
    company = dataclasses.replace(
        config.company,
        domain=domain,
        support_address=f"support@{domain}",
        complaints_address=f"complaints@{domain}",
    )
    gateway = Gateway(dataclasses.replace(config, company=company), clock=clock)
    gateway.init()
    gateway.start()
    return gateway


def quiet(*gateways, rounds=30):
    """Wait until no gateway has pending inbound or outbound work, twice in a row."""
    calm = 0
    for _ in range(rounds * 20):
        busy = 0
        for gw in gateways:
            gw.process_worker.wake()
            gw.delivery_worker.wake()
            with gw.db.read() as session:
                from gateway.store.tables import Inbound

                busy += session.exec(
                    select(func.count(Inbound.id)).where(Inbound.status == "pending")
                ).one()
                busy += session.exec(
                    select(func.count(Outbox.id)).where(Outbox.status == "pending")
                ).one()
        calm = calm + 1 if busy == 0 else 0
        if calm >= 3:
            return
        time.sleep(0.05)
    raise AssertionError("gateways never went quiet")


def test_two_gateways_answering_each_other_stop_at_once(tmp_path, db_url, clock):
    port_a, port_b = free_port(), free_port()
    second_url = db_url.replace("gateway.db", "gateway-b.db")  # PostgreSQL: same schema...
    if second_url == db_url:  # ...so give B its own tables by running it on SQLite
        second_url = f"sqlite:///{tmp_path / 'gateway-b.db'}"
    a = start(tmp_path, db_url, "a.example", port_a, port_b, clock)
    b = start(tmp_path, second_url, "b.example", port_b, port_a, clock)
    try:
        add_contact(a.db, "support@b.example", account="B desk")
        add_contact(b.db, "support@a.example", account="A desk")
        with smtplib.SMTP("127.0.0.1", port_a) as client:
            client.send_message(mail(sender="support@b.example", to="support@a.example"))
        quiet(a, b)
        assert count(a.db, Ticket) == 1 and count(a.db, Outbox) == 1  # one confirmation to B
        assert count(b.db, Ticket) == 0 and count(b.db, Outbox) == 0  # B answers nothing
        with b.db.read() as session:
            [held] = session.exec(select(Quarantine)).all()
        assert held.reason == "automatic"
    finally:
        a.stop()
        b.stop()


class Responder:
    """A careless auto-responder: answers every mail with a fresh one, no auto headers."""

    def __init__(self, gateway_port: int, limit: int = 200):
        self.gateway_port, self.limit, self.sent = gateway_port, limit, 0
        self.lock = threading.Lock()
        self.answering = 0  # answers accepted but not yet delivered back to the gateway

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.sent >= self.limit:
                return "250 OK"
            self.sent += 1
            self.answering += 1
            number = self.sent
        threading.Thread(target=self._answer, args=(number,), daemon=True).start()
        return "250 OK"

    def _answer(self, number: int) -> None:
        reply = mail(sender="bot@customer.example", subject=f"Thanks for your mail {number}",
                     body="We received your message and will answer soon.")  # fmt: skip
        try:
            with smtplib.SMTP("127.0.0.1", self.gateway_port) as client:
                client.send_message(reply)
        finally:
            with self.lock:
                self.answering -= 1

    def idle(self) -> bool:
        with self.lock:
            return self.answering == 0


def quiet_with(responder: Responder, gw) -> None:
    """Quiet means the gateway has nothing to do and no answer of the responder is on its way
    (on a loaded machine an answer can take longer than the gateway's calm to arrive)."""
    for _ in range(100):
        quiet(gw)
        if responder.idle():
            quiet(gw)
            if responder.idle():
                return
        time.sleep(0.05)
    raise AssertionError("the responder never went quiet")


def test_headerless_auto_responder_stops_after_one_round(start_gateway, clock):
    gw = start_gateway()
    responder = Responder(gw.gw.smtp_port)
    controller = Controller(responder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        gw.gw.sender.port = controller.port  # the gateway's mail now reaches the responder
        add_contact(gw.db, "bot@customer.example")
        gw.send(mail(sender="bot@customer.example", subject="Please call me"))
        quiet_with(responder, gw.gw)
        # Its first answer opens a ticket and is confirmed; its second says the same words
        # within the day, so it joins that ticket unanswered, and the loop ends there.
        assert responder.sent == 2
        assert count(gw.db, Ticket) == 2 and count(gw.db, Message) == 3
        with gw.db.read() as session:
            confirmations = session.exec(
                select(func.count(Outbox.id)).where(Outbox.kind == "confirmation")
            ).one()
        assert confirmations == 2
    finally:
        controller.stop()
