"""Bounces of our mail: matched by VERP or quoted Message-ID, never answered, never ticketed;
a permanent failure stops automatic mail to the address until staff clear it."""

from __future__ import annotations

import re

import pytest
from conftest import add_contact, key_file, mail
from sqlmodel import func, select

from gateway.cli import main as cli
from gateway.store import mailflow
from gateway.store.db import Database
from gateway.store.tables import Event, Ticket
from gateway.store.vault import Vault

VERP = re.compile(r"^bounces\+(\d+)\.[0-9a-f]{12}@support\.example$")


def dsn(verp_to: str, original_id: str, action="failed", status="5.1.1") -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.customer.example\r\nTo: {verp_to}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.customer.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; alice@customer.example\r\nAction: {action}\r\n"
        f"Status: {status}\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {original_id}\r\nSubject: [VB #1] Site down\r\n"
        "--B--\r\n"
    ).encode()


def count(db, model, **where):
    with db.read() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return session.exec(query).one()


@pytest.fixture
def bounced(gateway):
    """A ticket whose confirmation bounced back permanently."""
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail())
    gateway.settle()
    [confirmation] = gateway.sink.to("alice@customer.example")
    assert VERP.match(confirmation.mail_from), confirmation.mail_from
    report = dsn(confirmation.mail_from, confirmation.message["Message-ID"])
    assert gateway.send(report, mail_from="", to=[confirmation.mail_from])[0] == 250
    gateway.settle()
    return gateway


def test_outgoing_mail_has_a_verp_return_path(bounced):
    [confirmation] = bounced.sink.to("alice@customer.example")
    assert int(VERP.match(confirmation.mail_from).group(1)) >= 1


def test_permanent_bounce_marks_address_and_creates_no_ticket_or_reply(bounced):
    assert count(bounced.db, Ticket) == 1
    assert count(bounced.db, Event, kind="delivery-bounced") == 1
    with bounced.db.read() as session:
        assert mailflow.bouncing(session, ["alice@customer.example"]) == {"alice@customer.example"}
    assert not bounced.sink.to("mailer-daemon@mx.customer.example")
    assert len(bounced.sink.to("alice@customer.example")) == 1


def test_automatic_mail_stops_until_cleared(bounced, tmp_path):
    bounced.send(mail(subject="Second request"))
    bounced.settle()
    assert count(bounced.db, Ticket) == 2
    assert len(bounced.sink.to("alice@customer.example")) == 1  # no new confirmation
    assert count(bounced.db, Event, kind="auto-mail-suppressed") == 1
    config = tmp_path / "cli.toml"
    config.write_text(f'[database]\nurl = "{bounced.config.database.url}"\n')
    assert cli(["--config", str(config), "bounces", "clear", "alice@customer.example"]) == 0
    bounced.send(mail(subject="Third request"))
    bounced.settle()
    assert len(bounced.sink.to("alice@customer.example")) == 2


def test_delayed_report_changes_nothing(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail())
    gateway.settle()
    [confirmation] = gateway.sink.to("alice@customer.example")
    report = dsn(confirmation.mail_from, confirmation.message["Message-ID"], "delayed", "4.4.1")
    gateway.send(report, mail_from="", to=[confirmation.mail_from])
    gateway.settle()
    assert count(gateway.db, Event, kind="delivery-delayed") == 1
    with gateway.db.read() as session:
        assert not mailflow.bouncing(session, ["alice@customer.example"])


def test_forged_verp_changes_nothing(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail())
    gateway.settle()
    forged = "bounces+1.000000000000@support.example"
    gateway.send(dsn(forged, "<nothing@x>"), mail_from="", to=[forged])
    gateway.settle()
    with gateway.db.read() as session:
        assert not mailflow.bouncing(session, ["alice@customer.example"])
    assert count(gateway.db, Ticket) == 1


def test_plain_text_bounce_matched_by_quoted_message_id(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail())
    gateway.settle()
    [confirmation] = gateway.sink.to("alice@customer.example")
    text = (
        "From: postmaster@mx.customer.example\r\nTo: support@support.example\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n\r\n"
        "This message was created automatically by mail delivery software.\r\n"
        "  alice@customer.example\r\n    mailbox unavailable: user unknown\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n"
        f"Message-ID: {confirmation.message['Message-ID']}\r\nSubject: x\r\n"
    ).encode()
    gateway.send(text, mail_from="", to=["support@support.example"])
    gateway.settle()
    assert count(gateway.db, Ticket) == 1
    assert count(gateway.db, Event, kind="delivery-bounced") == 1


def test_every_process_signs_return_paths_with_the_committed_key(db, db_url, tmp_path):
    """The VERP key is remembered per process: one made by a transaction or savepoint that
    rolled back must not be, or bounces to this process's return paths would not verify."""
    with pytest.raises(RuntimeError), db.write() as session:
        mailflow.installation_secret(session, "verp")
        raise RuntimeError
    with db.write() as session:
        with pytest.raises(RuntimeError), session.begin_nested():
            mailflow.installation_secret(session, "verp")
            raise RuntimeError
        kept = mailflow.installation_secret(session, "verp")
    other = Database(db_url, vault=Vault(key_file(tmp_path)))  # e.g. the listener's process
    try:
        with other.read() as session:
            assert mailflow.installation_secret(session, "verp") == kept
    finally:
        other.dispose()
    with db.read() as session:
        assert mailflow.installation_secret(session, "verp") == kept
