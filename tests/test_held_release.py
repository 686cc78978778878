"""`gateway held show` and `gateway held release`: held mail looked at and processed again once
its cause is mended. A stranger who writes before being registered gets a ticket when staff
register them and release the mail; a release changes nothing else: mail still not acceptable
is held again (and its sender is not sent a second notice), forgotten mail cannot come back."""

from __future__ import annotations

import json

from conftest import add_contact
from test_db_outage import rows, run_cli, send
from test_unknown_senders import CANARY_BODY, CANARY_SUBJECT, STRANGER, stranger_mail

from gateway import cli
from gateway.store.tables import Event, Inbound, Message, Quarantine, Ticket


def held_rows(gw) -> list[Quarantine]:
    return rows(gw.db, Quarantine)


def cli_status(gw, tmp_path, *args: str) -> int:
    config = tmp_path / "operator.toml"
    config.write_text(f'[database]\nurl = "{gw.config.database.url}"\n')
    return cli.main(["--config", str(config), *args])


def test_a_stranger_registered_since_gets_a_ticket_when_the_mail_is_released(gateway, tmp_path):
    gw = gateway
    assert send(gw, stranger_mail(), mail_from=STRANGER)[0] == 250
    gw.settle()
    [held] = held_rows(gw)
    assert len(gw.sink.to(STRANGER)) == 1  # the fixed notice

    shown = json.loads(run_cli(gw, tmp_path, "held", "show", str(held.id), "--json"))
    assert shown["held"]["reason"] == "unknown-sender"
    assert shown["held"]["envelope_from"] == STRANGER
    assert shown["if_released"]["parsed"]["subject"] == CANARY_SUBJECT
    assert shown["if_released"]["outcome"]["held"][0].startswith("unknown-sender: ")

    add_contact(gw.db, STRANGER, name="Mallory", account="Mallory Ltd")  # staff register them
    shown = json.loads(run_cli(gw, tmp_path, "held", "show", str(held.id), "--json"))
    outcome = shown["if_released"]["outcome"]
    assert shown["if_released"]["sender"]["kind"] == "contact" and outcome["held"] == "no"
    assert [m["direction"] for m in outcome["stored_messages"]] == ["in"]
    assert "confirmation" in [sent["kind"] for sent in outcome["would_send"]]

    out = run_cli(gw, tmp_path, "held", "release", str(held.id))
    assert f"#{held.id}: released" in out
    gw.settle()

    assert held_rows(gw) == []
    [ticket] = rows(gw.db, Ticket)
    assert ticket.subject == CANARY_SUBJECT
    [message] = rows(gw.db, Message)
    assert CANARY_BODY in message.body_text and message.inbound_id == held.inbound_id
    _notice, confirmation = gw.sink.to(STRANGER)
    assert f"[VB #{ticket.id}]" in confirmation.message["Subject"]
    [released] = [e for e in rows(gw.db, Event) if e.kind == "held-released"]
    assert released.actor.startswith("os:")
    assert json.loads(released.detail)["reason"] == "unknown-sender"
    assert [r.status for r in rows(gw.db, Inbound)] == ["done"]


def test_mail_still_not_acceptable_is_held_again_and_its_sender_not_told_twice(gateway, tmp_path):
    gw = gateway
    send(gw, stranger_mail(), mail_from=STRANGER)
    gw.settle()
    [first] = held_rows(gw)
    run_cli(gw, tmp_path, "held", "release", str(first.id))
    gw.settle()

    [again] = held_rows(gw)
    assert again.inbound_id == first.inbound_id and again.reason == "unknown-sender"
    assert rows(gw.db, Ticket) == []
    assert len(gw.sink.to(STRANGER)) == 1  # one notice a day, released or not


def test_unknown_or_forgotten_held_mail_is_not_released(gateway, tmp_path, clock, capsys):
    gw = gateway
    send(gw, stranger_mail(), mail_from=STRANGER)
    gw.settle()
    [held] = held_rows(gw)
    clock.advance(days=31)
    gw.gw.jobs.run("forget-held")

    capsys.readouterr()
    assert cli_status(gw, tmp_path, "held", "release", str(held.id), "999") == 1
    errors = capsys.readouterr().err
    assert f"#{held.id}: no such held mail" in errors and "#999: no such held mail" in errors
    add_contact(gw.db, STRANGER)
    gw.settle()
    assert rows(gw.db, Ticket) == []
    assert [r.status for r in rows(gw.db, Inbound)] == ["done"]


def test_a_released_mail_keeps_the_digest_of_what_was_received(gateway, tmp_path):
    """Held mail keeps only its masked copy; processed again from it, the row still records
    the SHA-256 of the mail as it arrived, and no card number comes back."""
    gw = gateway
    send(gw, stranger_mail(body="Pay with 4111 1111 1111 1111 please"), mail_from=STRANGER)
    gw.settle()
    [held] = held_rows(gw)
    [before] = rows(gw.db, Inbound)
    assert before.original_sha256 and b"4111 1111 1111 1111" not in before.raw

    add_contact(gw.db, STRANGER)
    run_cli(gw, tmp_path, "held", "release", str(held.id))
    gw.settle()
    [after] = rows(gw.db, Inbound)
    assert after.status == "done" and after.original_sha256 == before.original_sha256
    [message] = rows(gw.db, Message)
    assert "4111 1111 1111 1111" not in message.body_text
    assert "Pay with 4111 11** **** 1111 please" in message.body_text
