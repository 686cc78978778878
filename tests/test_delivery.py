"""Outbound delivery: retries with backoff and jitter against a real SMTP sink, permanent
failures parked and recorded, a lifetime after which we give up, and the local Maildir."""

from __future__ import annotations

import json
import mailbox
import random
import re
import shutil
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from conftest import SinkHandler, add_contact, free_port, mail, make_config
from sqlmodel import select
from test_cli import cli_config, run_json

from gateway import compose, delivery, outbox
from gateway.app import Gateway
from gateway.core import bounces
from gateway.store import mailflow
from gateway.store.tables import Event, Outbox

TEMPORARY = "451 4.3.0 try later"
PERMANENT = "550 5.1.1 no such user"


class EveryAttempt(SinkHandler):
    """The conftest sink, also keeping the bytes of refused attempts; `rcpt_responses` can
    queue answers to RCPT TO, where real servers refuse unknown users."""

    def __init__(self):
        super().__init__()
        self.attempts: list[bytes] = []
        self.attempts_lock = threading.Lock()
        self.rcpt_responses: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.attempts_lock:
            if self.rcpt_responses:
                return self.rcpt_responses.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.attempts_lock:
            self.attempts.append(envelope.original_content)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def recording_sink():
    handler = EveryAttempt()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), decode_data=False)
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def build(tmp_path, db_url, clock):
    """A gateway that is built but not started: tests run its delivery step by hand."""
    built: list[Gateway] = []

    def make(**outbound) -> Gateway:
        config = make_config(tmp_path, db_url, outbound=outbound)
        gw = Gateway(config, clock=clock)
        gw.init()
        built.append(gw)
        return gw

    yield make
    for gw in built:
        gw.db.dispose()


def queue(
    gw: Gateway, *to: str, envelope_from="bounces@support.example", automatic: bool = True
) -> str:
    """A mail in the outbox: automatic (a confirmation), or written by a person."""
    draft = compose.Draft(
        from_name="Example Hosting",
        from_address="support@support.example",
        to=tuple(compose.Recipient(address) for address in to or ("alice@customer.example",)),
        subject="Your request",
        text="We have your request.\n",
        auto_submitted="auto-replied" if automatic else "",
    )
    with gw.db.write() as session:
        return outbox.enqueue(
            session, draft, kind="test", ticket_id=None, envelope_from=envelope_from,
            now=gw.clock(), message_domain="support.example",
        )  # fmt: skip


def outbox_rows(gw) -> list[Outbox]:
    with gw.db.read() as session:
        return list(session.exec(select(Outbox).order_by(Outbox.id)))


def events(gw, kind: str) -> list[dict]:
    with gw.db.read() as session:
        rows = session.exec(select(Event).where(Event.kind == kind).order_by(Event.id))
        return [{"ticket_id": e.ticket_id, **json.loads(e.detail)} for e in rows]


def delay_of(row: Outbox, clock) -> timedelta:
    return row.next_attempt_at - clock()


def within(delay: timedelta, minutes: float) -> bool:
    """Jitter keeps each retry within ±20% of the nominal backoff."""
    return timedelta(minutes=0.8 * minutes) <= delay <= timedelta(minutes=1.2 * minutes)


# Over SMTP -----------------------------------------------------------------------------------


def test_confirmation_refused_for_now_is_delivered_after_the_backoff(
    start_gateway, clock, tmp_path, capsys
):
    gw = start_gateway()
    gw.sink.responses.append(TEMPORARY)
    add_contact(gw.db, "alice@customer.example")
    gw.send(mail())
    gw.wait_for(lambda: any(r.attempts == 1 and r.last_error for r in outbox_rows(gw.gw)))

    [row] = outbox_rows(gw.gw)
    assert row.status == "pending" and "451" in row.last_error and "try later" in row.last_error
    assert within(delay_of(row, clock), 5)
    assert gw.sink.to("alice@customer.example") == []
    cfg = cli_config(tmp_path, gw)
    [listed] = run_json(capsys, cfg, "outbox", "list")
    assert (listed["status"], listed["attempts"], listed["kind"]) == (
        "pending", 1, "confirmation",
    )  # fmt: skip

    clock.advance(minutes=6, seconds=1)  # past the longest jittered wait
    gw.settle()
    [delivered] = gw.sink.to("alice@customer.example")
    assert delivered.message["Message-ID"] == row.message_id
    [listed] = run_json(capsys, cfg, "outbox", "list")
    assert (listed["status"], listed["attempts"]) == ("sent", 2)


def test_backoff_grows_from_five_minutes_to_an_hour(build, recording_sink, clock):
    gw = build(mode="smtp", host="127.0.0.1", port=recording_sink.port)
    message_id = queue(gw)
    recording_sink.responses.extend([TEMPORARY] * 7)
    nominal = [5, 10, 20, 40, 60, 60, 60]
    for attempt, minutes in enumerate(nominal, start=1):
        assert gw.delivery.run_once() == 1
        [row] = outbox_rows(gw)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert within(delay_of(row, clock), minutes), (attempt, delay_of(row, clock))
        clock.advance(seconds=(delay_of(row, clock) - timedelta(seconds=1)).total_seconds())
        assert gw.delivery.run_once() == 0  # one second early: not due yet
        clock.advance(seconds=1)
    assert gw.delivery.run_once() == 1
    [row] = outbox_rows(gw)
    assert (row.status, row.attempts, row.last_error) == ("sent", 8, None)

    # Every attempt carried the same bytes, hence the same Message-ID.
    assert len(recording_sink.attempts) == 8
    assert len(set(recording_sink.attempts)) == 1
    sent = message_from_bytes(recording_sink.attempts[0], policy=policy.default)
    assert sent["Message-ID"] == message_id
    assert recording_sink.attempts[0].rstrip(b"\r\n") == row.raw.rstrip(b"\r\n")


def test_a_mail_retried_for_days_still_gets_its_next_time():
    """Five days of hourly retries are 120 attempts: the backoff must not double past what a
    timedelta holds (it raised OverflowError from the 40th attempt on, so the mail was never
    given up)."""
    policy = delivery.RetryPolicy()
    now = datetime(2026, 11, 23, tzinfo=UTC)
    for attempts in (1, 40, 120, 10_000):
        delay = policy.next_attempt(attempts, now, random.Random(attempts)) - now
        assert timedelta(minutes=4) <= delay <= timedelta(minutes=72), (attempts, delay)


def test_retries_are_spread_by_jitter(build, sink, clock):
    gw = build(mode="smtp", host="127.0.0.1", port=sink.port)
    for index in range(12):
        queue(gw, f"user{index}@customer.example")
    sink.responses.extend([TEMPORARY] * 12)
    assert gw.delivery.run_once() == 12
    delays = [delay_of(row, clock) for row in outbox_rows(gw)]
    assert all(within(delay, 5) for delay in delays)
    assert len(set(delays)) > 6  # not one thundering herd at the same second


def test_permanent_failure_parks_the_row_and_records_an_event(
    start_gateway, clock, tmp_path, capsys
):
    gw = start_gateway()
    gw.sink.responses.append(PERMANENT)
    add_contact(gw.db, "alice@customer.example")
    gw.send(mail())
    gw.wait_for(lambda: [r.status for r in outbox_rows(gw.gw)] == ["failed"])

    [row] = outbox_rows(gw.gw)
    assert row.attempts == 1 and "550" in row.last_error and "no such user" in row.last_error
    cfg = cli_config(tmp_path, gw)
    [ticket] = run_json(capsys, cfg, "tickets", "list")
    document = run_json(capsys, cfg, "tickets", "show", str(ticket["number"]))
    [failed] = [e for e in document["events"] if e["kind"] == "delivery-failed"]
    assert failed["detail"]["to"] == ["alice@customer.example"]
    assert "550" in failed["detail"]["error"] and failed["detail"]["outbox_id"] == row.id
    [parked] = document["mail"]  # shown beside the thread, with why
    assert (parked["kind"], parked["status"]) == ("confirmation", "failed")
    assert "550" in parked["last_error"]
    [listed] = run_json(capsys, cfg, "outbox", "list", "--status", "failed")
    assert (listed["status"], listed["attempts"]) == ("failed", 1)

    clock.advance(days=1)  # a parked row is never tried again
    gw.settle()
    assert gw.sink.received == [] and outbox_rows(gw.gw)[0].attempts == 1


def test_temporary_failures_give_up_after_the_lifetime(build, recording_sink, clock):
    gw = build(mode="smtp", host="127.0.0.1", port=recording_sink.port, lifetime_hours=2)
    queue(gw, "gone@customer.example")
    created = clock()
    recording_sink.responses.extend([TEMPORARY] * 20)
    while True:
        assert gw.delivery.run_once() == 1
        [row] = outbox_rows(gw)
        if row.status != "pending":
            break
        assert clock() - created < timedelta(hours=2)  # still within its lifetime
        clock.advance(seconds=delay_of(row, clock).total_seconds())
    assert row.status == "failed"
    assert clock() - created >= timedelta(hours=2)
    assert row.last_error.startswith(f"gave up after {row.attempts} attempts: 451")
    assert len(recording_sink.attempts) == row.attempts
    [event] = events(gw, "delivery-failed")
    assert event["to"] == ["gone@customer.example"] and event["error"] == row.last_error
    clock.advance(hours=1)
    assert gw.delivery.run_once() == 0


def test_automatic_mail_is_given_up_after_a_day_a_persons_reply_after_five(
    build, recording_sink, clock
):
    """A confirmation a day late says what is no longer true; a reply is worth its five days
    (`outbound.automatic_lifetime_hours`, `outbound.lifetime_hours`)."""
    gw = build(mode="smtp", host="127.0.0.1", port=recording_sink.port)
    queue(gw, "slow@customer.example")
    queue(gw, "slow@customer.example", automatic=False)
    recording_sink.responses.extend([TEMPORARY] * 500)
    created, failed_after = clock(), {}
    while len(failed_after) < 2:
        assert clock() - created < timedelta(days=6)
        gw.delivery.run_once()
        for row in outbox_rows(gw):
            if row.status == "failed":
                failed_after.setdefault(row.id, clock() - created)
        clock.advance(minutes=15)
    automatic, reply = outbox_rows(gw)
    assert timedelta(hours=24) <= failed_after[automatic.id] < timedelta(hours=26)
    assert timedelta(hours=120) <= failed_after[reply.id] < timedelta(hours=122)


def test_an_alert_that_fails_loses_no_outcome_of_the_round(build, recording_sink):
    """Telling staff a mail was given up is a savepoint of its own: if it fails, the round's
    outcomes are still recorded, so no mail delivered in it is sent again."""
    gw = build(mode="smtp", host="127.0.0.1", port=recording_sink.port)
    queue(gw, "nobody@customer.example")
    queue(gw, "alice@customer.example")
    recording_sink.rcpt_responses.append(PERMANENT)

    def broken_alert(session, row, reason, now):
        session.execute(select(Outbox))  # it had begun its work...
        raise RuntimeError("no template")  # ...when it failed

    gw.delivery.on_given_up = broken_alert
    assert gw.delivery.run_once() == 2
    assert [(r.status, r.attempts) for r in outbox_rows(gw)] == [("failed", 1), ("sent", 1)]
    assert gw.delivery.run_once() == 0 and len(recording_sink.attempts) == 1


@pytest.mark.parametrize(
    ("answer", "status"), [(PERMANENT, "failed"), ("450 4.2.1 mailbox busy", "pending")]
)
def test_recipient_refused_at_rcpt(build, recording_sink, answer, status):
    gw = build(mode="smtp", host="127.0.0.1", port=recording_sink.port)
    queue(gw, "nobody@customer.example")
    recording_sink.rcpt_responses.append(answer)
    assert gw.delivery.run_once() == 1
    [row] = outbox_rows(gw)
    assert row.status == status and answer[:3] in row.last_error
    assert recording_sink.attempts == []  # no DATA without an accepted recipient
    assert len(events(gw, "delivery-failed")) == (status == "failed")


def test_unreachable_smarthost_is_a_temporary_failure(build, clock):
    gw = build(mode="smtp", host="127.0.0.1", port=free_port(), timeout_seconds=5)
    queue(gw)
    assert gw.delivery.run_once() == 1
    [row] = outbox_rows(gw)
    assert row.status == "pending" and "Connection" in row.last_error
    assert within(delay_of(row, clock), 5)
    assert events(gw, "delivery-failed") == []


# Into the local Maildir ----------------------------------------------------------------------


def test_maildir_gets_one_file_per_envelope_recipient(build, tmp_path):
    gw = build(mode="maildir", maildir="var/outbox")
    rcpts = ["alice@customer.example", "ops@customer.example"]
    message_id = queue(gw, *rcpts)
    assert gw.delivery.run_once() == 1
    [row] = outbox_rows(gw)
    assert row.status == "sent"

    box = mailbox.Maildir(tmp_path / "var/outbox", factory=None, create=False)
    assert sorted(path.name for path in (tmp_path / "var/outbox/new").iterdir()) == sorted(
        box.keys()
    )
    delivered = sorted(box, key=lambda m: m["Delivered-To"])
    assert [m["Delivered-To"] for m in delivered] == rcpts
    for message in delivered:
        assert re.fullmatch(
            r"<bounces\+\d+\.[0-9a-f]{12}@support\.example>", message["Return-Path"]
        )
        assert message["Message-ID"] == message_id
        assert message.get_payload().strip() == "We have your request."


def test_maildir_end_to_end_and_the_null_sender(start_gateway, tmp_path):
    gw = start_gateway(outbound={"mode": "maildir"})
    add_contact(gw.db, "alice@customer.example")
    gw.send(mail(subject="Site down"))
    gw.send(mail(sender="stranger@nowhere.example", subject="Hello"))
    gw.settle()
    box = mailbox.Maildir(gw.gw.config.path(gw.config.outbound.maildir), factory=None)
    by_rcpt = {m["Delivered-To"]: m for m in box}
    assert set(by_rcpt) == {"alice@customer.example", "stranger@nowhere.example"}
    assert by_rcpt["alice@customer.example"]["Subject"].endswith("Site down")
    verp = by_rcpt["alice@customer.example"]["Return-Path"]  # names the outbox row (VERP)
    assert re.fullmatch(r"<bounces\+\d+\.[0-9a-f]{12}@support\.example>", verp)
    assert by_rcpt["stranger@nowhere.example"]["Return-Path"] == "<>"  # notices bounce nowhere
    assert gw.sink.received == []


def test_a_maildir_removed_while_running_is_made_again(build, tmp_path):
    gw = build(mode="maildir", maildir="var/outbox")
    queue(gw, "alice@customer.example")
    assert gw.delivery.run_once() == 1
    shutil.rmtree(tmp_path / "var/outbox")
    queue(gw, "alice@customer.example", "ops@customer.example")
    assert gw.delivery.run_once() == 1
    assert [row.status for row in outbox_rows(gw)] == ["sent", "sent"]
    box = mailbox.Maildir(tmp_path / "var/outbox", factory=None, create=False)
    assert sorted(m["Delivered-To"] for m in box) == [
        "alice@customer.example", "ops@customer.example"
    ]  # fmt: skip


def test_a_mail_queued_with_its_return_path_written_keeps_it(build, tmp_path):
    # Mail queued by an earlier version holds its VERP address already; mail queued now holds
    # the bare bounce address, made into its VERP address as it is sent. Both leave the same
    # way, once; the null sender stays null.
    gw = build(mode="maildir", maildir="var/outbox")
    queue(gw, "new@customer.example")
    queue(gw, "old@customer.example")
    queue(gw, "null@customer.example", envelope_from="")
    with gw.db.write() as session:
        old = session.exec(select(Outbox).where(Outbox.id == 2)).one()
        key = mailflow.installation_secret(session, "verp")
        old.mail_from = bounces.verp_address(old.mail_from, old.id, key)
        session.add(old)
    assert gw.delivery.run_once() == 3
    box = mailbox.Maildir(tmp_path / "var/outbox", factory=None, create=False)
    paths = {m["Delivered-To"]: m["Return-Path"] for m in box}
    assert re.fullmatch(
        r"<bounces\+1\.[0-9a-f]{12}@support\.example>", paths["new@customer.example"]
    )
    assert re.fullmatch(
        r"<bounces\+2\.[0-9a-f]{12}@support\.example>", paths["old@customer.example"]
    )
    assert paths["null@customer.example"] == "<>"


def test_unwritable_maildir_is_retried_not_lost(build, tmp_path, clock):
    gw = build(mode="maildir", maildir="var/outbox")
    shutil.rmtree(tmp_path / "var/outbox")
    (tmp_path / "var/outbox").write_text("a file where the Maildir should be")
    queue(gw)
    assert gw.delivery.run_once() == 1
    [row] = outbox_rows(gw)
    assert row.status == "pending" and "maildir write failed" in row.last_error
    assert within(delay_of(row, clock), 5)
