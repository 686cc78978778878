"""When the database cannot be written the listener says 451 (try again later) and keeps
serving; when it is back, the same message is taken and ticketed, and nothing that was
acknowledged is lost. A message whose processing fails is parked with its error and put
back by `gateway inbound retry`.

The outage is real: on SQLite another connection holds the write lock; on PostgreSQL the
gateway talks through a loopback TCP proxy that the test cuts and restores.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import sqlite3
import threading
from email import policy

import pytest
from conftest import add_contact, mail, make_config
from sqlalchemy.engine import make_url
from sqlmodel import select

from gateway import cli, intake
from gateway.app import Gateway
from gateway.core.model import Envelope
from gateway.store import outbox_rows
from gateway.store.tables import Inbound, Outbox, Quarantine, Ticket, new_row_key

ALICE = "alice@customer.example"
STRANGER = "mallory@stranger.example"


class TcpProxy:
    """Forwards loopback connections to the database; `cut` drops them all and turns new
    ones away (accepted, then closed at once, as a crashed server would), `restore` ends it."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.up = True
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self._listener.close()


class SqliteLock:
    """Another process's write transaction holding the database (BEGIN EXCLUSIVE)."""

    def __init__(self, path: str):
        self.path = path
        self._connection: sqlite3.Connection | None = None

    def cut(self) -> None:
        self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        self._connection.execute("BEGIN EXCLUSIVE")

    def restore(self) -> None:
        if self._connection is not None:
            self._connection.execute("ROLLBACK")
            self._connection.close()
            self._connection = None

    close = restore


@pytest.fixture
def outage(db_url):
    """(database URL the gateway should use, a switch with cut() and restore())."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        switch = SqliteLock(url.database)
        yield db_url, switch
    else:
        switch = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
        proxied = url.set(host="127.0.0.1", port=switch.port)
        yield proxied.render_as_string(hide_password=False), switch
    switch.close()


@pytest.fixture
def gw(start_gateway, outage):
    url, _ = outage
    # No sweep during a test: the workers run when the test wakes them, before or after a cut.
    gateway = start_gateway(
        database={"url": url, "busy_timeout_ms": 500}, processing={"sweep_seconds": 3600}
    )
    add_contact(gateway.db, ALICE)
    return gateway


def send(gw, message, mail_from=None) -> tuple[int, bytes]:
    """One SMTP session; returns the final answer to DATA (a 451 does not raise)."""
    return gw.send(message, mail_from=mail_from)


def rows(db, table) -> list:
    with db.read() as session:
        return list(session.exec(select(table).order_by(table.id)))


def test_outage_gets_451_then_the_same_message_is_taken_when_the_database_is_back(gw, outage):
    _, switch = outage
    before = mail(subject="Before the outage", body="taken before")
    assert send(gw, before)[0] == 250
    gw.settle()

    during = mail(subject="During the outage", body="sent while the database was down")
    switch.cut()
    try:
        code, text = send(gw, during)
        assert code == 451, text
        assert b"try again later" in text
        # The listener is still there and still answering, without hanging.
        code, text = send(gw, mail(subject="Another", body="also deferred"))
        assert code == 451, text
        with gw.smtp() as client:
            assert client.ehlo()[0] == 250
            assert client.noop()[0] == 250
    finally:
        switch.restore()

    code, text = send(gw, during)  # what the sending MTA does: retry the same bytes
    assert code == 250, text
    gw.settle()

    subjects = [t.subject for t in rows(gw.db, Ticket)]
    assert subjects == ["Before the outage", "During the outage"]
    inbound = rows(gw.db, Inbound)
    assert len(inbound) == 2  # the 451 attempts left nothing half-stored
    assert {r.status for r in inbound} == {"done"}
    assert len(gw.sink.to(ALICE)) == 2  # both confirmed


def test_mail_acknowledged_just_before_an_outage_is_processed_after_it(gw, outage):
    """Whether or not the processor got to it before the database went away, a message
    that received 250 becomes a ticket once the database is back."""
    _, switch = outage
    assert send(gw, mail(subject="Right before", body="acknowledged"))[0] == 250
    switch.cut()
    try:
        assert send(gw, mail(subject="Refused", body="not acknowledged"))[0] == 451
    finally:
        switch.restore()

    def processed() -> bool:
        gw.gw.process_worker.wake()
        return [r.status for r in rows(gw.db, Inbound)] == ["done"]

    # Not settle(): a confirmation sent while the database was locked may stay leased
    # (sent, not yet marked) until its lease ends, and the test clock does not move.
    gw.wait_for(processed)
    assert [t.subject for t in rows(gw.db, Ticket)] == ["Right before"]
    gw.wait_for(lambda: gw.gw.delivery_worker.wake() or len(gw.sink.to(ALICE)) == 1)


def worker_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "gateway.edges.workers"]


def queue_unwoken(gw) -> None:
    """A mail due now in the outbox, with the delivery not told (it finds it when woken)."""
    now = gw.gw.clock()
    with gw.db.write() as session:
        outbox_rows.add(
            session, created_at=now, kind="notice", ticket_id=None, automatic=True,
            mail_from="bounces@support.example", rcpt_to=[ALICE], message_id="<due@test>",
            raw=b"Subject: due\r\n\r\nDue.\r\n", row_key=new_row_key(), next_attempt_at=now,
        )  # fmt: skip


def test_workers_report_an_outage_in_one_line_and_carry_on_after_it(gw, outage, caplog):
    _, switch = outage
    caplog.set_level(logging.INFO, logger="gateway")
    # SQLite readers are not blocked by the lock (WAL), so there only delivery, which has a
    # mail due and must write to take it, meets the outage; on PostgreSQL both workers' first
    # query fails.
    expected = {"delivery"} if gw.db.is_sqlite else {"delivery", "processor"}
    # The start-up drain first: a delivery still starting would take the row before the cut,
    # send it, fail to record it, and leave it leased past the end of the test (its clock
    # does not move).
    gw.settle()
    queue_unwoken(gw)
    switch.cut()
    try:
        gw.gw.process_worker.wake()
        gw.gw.delivery_worker.wake()

        def reported() -> set[str]:
            return {r.getMessage().split(":")[0] for r in worker_records(caplog)}

        gw.wait_for(lambda: expected <= reported())
    finally:
        switch.restore()
    messages = [r.getMessage() for r in worker_records(caplog)]
    outages = [m for m in messages if "database reachable again" not in m]  # said once back
    assert all("database unavailable, will retry" in m for m in outages), messages
    assert len(outages) == len({m.split(":")[0] for m in outages}), messages  # one line each
    assert not any(r.exc_info for r in worker_records(caplog))  # no traceback per attempt

    assert send(gw, mail(subject="After", body="back to normal"))[0] == 250
    gw.settle()
    assert [t.subject for t in rows(gw.db, Ticket)] == ["After"]


def run_cli(gw, tmp_path, *args: str) -> str:
    """The real `gateway` command, on a config file naming this test's database."""
    config = tmp_path / "operator.toml"
    config.write_text(
        f'[database]\nurl = "{gw.config.database.url}"\n[outbound]\nmaildir = "cli-outbox"\n'
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["--config", str(config), *args]) == 0
    return out.getvalue()


def test_failed_processing_is_parked_with_its_error_and_retried_on_command(gw, tmp_path):
    # A schema problem the processor meets only for some mail: the quarantine table is gone.
    with gw.db.writer.begin() as connection:
        connection.exec_driver_sql("DROP TABLE quarantine")

    stranger = mail(sender=STRANGER, subject="Who reads this?", body="hello")
    assert send(gw, stranger)[0] == 250
    assert send(gw, mail(subject="Still fine", body="a contact's request"))[0] == 250
    gw.settle()

    failed = json.loads(run_cli(gw, tmp_path, "inbound", "list", "--status", "failed", "--json"))
    assert [r["mail_from"] for r in failed] == [STRANGER]
    assert "quarantine" in failed[0]["error"]
    with gw.db.read() as session:
        parked = session.get(Inbound, failed[0]["id"])
    assert parked.raw == stranger.as_bytes(policy=policy.SMTP)  # kept for the replay
    # The failure rolled back that message alone: the contact's ticket was made and
    # confirmed, and no notice went to the stranger from the failed attempt.
    assert [t.subject for t in rows(gw.db, Ticket)] == ["Still fine"]
    assert gw.sink.to(STRANGER) == []

    run_cli(gw, tmp_path, "init")  # the operator repairs the schema...
    assert "1 message(s) put back" in run_cli(gw, tmp_path, "inbound", "retry")  # ...and retries
    gw.settle()

    assert {r.status for r in rows(gw.db, Inbound)} == {"done"}
    [held] = rows(gw.db, Quarantine)
    assert held.inbound_id == failed[0]["id"] and held.reason == "unknown-sender"
    assert len(gw.sink.to(STRANGER)) == 1
    assert len(rows(gw.db, Ticket)) == 1


@pytest.mark.parametrize("failing", [1, 2], ids=["amid", "last"])
def test_a_failure_in_one_transaction_parks_that_message_alone(tmp_path, db_url, clock, failing):
    """The processor applies a transaction's messages without a savepoint each; when one fails
    (amid the transaction or as its last message) the transaction is applied again one
    savepoint a message: the others are stored and confirmed exactly once, and only the
    failing one is parked."""
    gateway = Gateway(make_config(tmp_path, db_url), clock=clock)
    gateway.init()
    for address in (ALICE, "bob@customer.example"):
        add_contact(gateway.db, address)
    with gateway.db.writer.begin() as connection:
        connection.exec_driver_sql("DROP TABLE quarantine")  # held mail cannot be stored
    senders = [ALICE, "bob@customer.example"]
    senders.insert(failing, STRANGER)
    raws = [
        intake.RawMail(
            mail(sender=sender, subject=f"Mail {n}").as_bytes(policy=policy.SMTP),
            Envelope(sender, ("support@support.example",)),
        )
        for n, sender in enumerate(senders)
    ]
    intake.accept(gateway.db, raws, clock(), "support.example")

    assert gateway.processor.run_once() == (3, 2)

    parked = rows(gateway.db, Inbound)
    assert [(r.mail_from, r.status) for r in parked] == [
        (sender, "failed" if sender == STRANGER else "done") for sender in senders
    ]
    assert "quarantine" in parked[failing].error
    assert [t.subject for t in rows(gateway.db, Ticket)] == [
        f"Mail {n}" for n, sender in enumerate(senders) if sender != STRANGER
    ]
    assert sorted(r.kind for r in rows(gateway.db, Outbox)) == ["confirmation"] * 2
    gateway.db.dispose()
