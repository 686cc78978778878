"""`gateway explain` tells why without changing anything; `gateway replay` feeds files, Maildirs
and mboxes through the normal intake."""

from __future__ import annotations

import json
import mailbox

from conftest import add_contact, mail
from sqlmodel import func, select

from gateway.cli import main as cli
from gateway.store.tables import Inbound, Outbox, Ticket


def write_config(tmp_path, db_url):
    path = tmp_path / "gw.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n[outbound]\nmaildir = "outbox"\n')
    return str(path)


def counts(db):
    with db.read() as session:
        return tuple(
            session.exec(select(func.count()).select_from(t)).one()
            for t in (Ticket, Inbound, Outbox)
        )


def run_json(capsys, *args):
    capsys.readouterr()
    assert cli(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_explain_new_request_changes_nothing(tmp_path, db_url, db, capsys):
    config = write_config(tmp_path, db_url)
    add_contact(db, "alice@customer.example")
    eml = tmp_path / "new.eml"
    eml.write_bytes(mail(subject="Site down").as_bytes())
    report = run_json(capsys, "--config", config, "explain", str(eml), "--json")
    assert report["sender"] == {"kind": "contact", "address": "alice@customer.example"}
    assert report["automatic"].startswith("no")
    assert [m["kind"] for m in report["outcome"]["would_send"]] == ["confirmation"]
    assert any(e.startswith("ticket-opened") for e in report["outcome"]["events"])
    assert counts(db) == (0, 0, 0)


def test_explain_says_which_clue_threads_a_reply(tmp_path, db_url, db, capsys, start_gateway):
    config = write_config(tmp_path, db_url)
    add_contact(db, "alice@customer.example")
    eml = tmp_path / "first.eml"
    eml.write_bytes(mail().as_bytes())
    assert cli(["--config", config, "replay", str(eml), "--process"]) == 0
    with db.read() as session:
        ticket = session.exec(select(Ticket)).one()
    reply = tmp_path / "reply.eml"
    reply.write_bytes(mail(subject=f"Re: [VB #{ticket.id}] hello").as_bytes())
    report = run_json(capsys, "--config", config, "explain", str(reply), "--json")
    assert report["threading_clues"]["subject_tag"] == ticket.id
    assert report["ticket_candidates"]["by_tag"] == ticket.id
    assert any('"via": "tag"' in e for e in report["outcome"]["events"]), report["outcome"]
    assert report["outcome"]["would_send"] == []  # follow-ups are not re-confirmed


def test_explain_stranger_and_auto_reply(tmp_path, db_url, db, capsys):
    config = write_config(tmp_path, db_url)
    stranger = tmp_path / "stranger.eml"
    stranger.write_bytes(mail(sender="eve@evil.example").as_bytes())
    report = run_json(capsys, "--config", config, "explain", str(stranger), "--json")
    assert report["sender"]["kind"] == "stranger"
    assert report["outcome"]["held"][0].startswith("unknown-sender")
    auto = tmp_path / "auto.eml"
    auto.write_bytes(mail(sender="eve@evil.example", Auto_Submitted="auto-replied").as_bytes())
    capsys.readouterr()
    assert cli(["--config", config, "explain", str(auto)]) == 0
    text = capsys.readouterr().out
    assert "automatic: auto-submitted:auto-replied" in text and "would send: none" in text


def test_replay_maildir_and_mbox_record_each_message_once(tmp_path, db_url, db, capsys):
    config = write_config(tmp_path, db_url)
    add_contact(db, "alice@customer.example")
    first, second = mail(subject="One"), mail(subject="Two")
    box = mailbox.Maildir(tmp_path / "maildir")
    for message in (first, second, first):  # the same message twice
        box.add(message.as_bytes())
    assert cli(["--config", config, "replay", str(tmp_path / "maildir"), "--process"]) == 0
    assert "2 stored, 1 already known" in capsys.readouterr().out
    mbox = mailbox.mbox(tmp_path / "archive.mbox")
    for message in (second, mail(subject="Three")):
        mbox.add(message.as_bytes())
    mbox.flush()
    assert cli(["--config", config, "replay", str(tmp_path / "archive.mbox"), "--process"]) == 0
    assert "1 stored, 1 already known" in capsys.readouterr().out
    assert counts(db)[:2] == (3, 3)
