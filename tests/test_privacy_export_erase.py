"""A contact's data out (export) and gone (erasure by crypto-shredding), from the command line,
with every access written to the audit log."""

from __future__ import annotations

import getpass
import io
import json
import stat
import zipfile
from email import message_from_bytes, policy

import pytest
from conftest import mail
from privacy_scan import readable_text, stored_bytes
from sqlalchemy import update
from sqlmodel import select
from test_cli import cli_config, run_cli, run_json
from test_privacy_at_rest import CANARIES, make_desk, realistic_run
from test_staff_flow import last, staff_mail

from gateway.store import directory
from gateway.store.db import Database
from gateway.store.tables import DataKey, Event, Outbox, Quarantine, Ticket
from gateway.store.vault import Vault

ALICE = "alice@customer.example"


@pytest.fixture
def desk(start_gateway):
    return make_desk(start_gateway)


def audit_entries(db) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.exec(select(Event).where(Event.kind == "personal-data-access")).all()
    return [(e.actor, json.loads(e.detail)["what"]) for e in rows]


def test_export_holds_the_contacts_own_data_only(desk, tmp_path, capsys):
    number = realistic_run(desk)
    archive_path = tmp_path / "alice.zip"
    code, out, err = run_cli(capsys, cli_config(tmp_path, desk), "privacy", "export", ALICE,
                             "--output", str(archive_path))  # fmt: skip
    assert code == 0, err
    assert stat.S_IMODE(archive_path.stat().st_mode) == 0o600
    archive = zipfile.ZipFile(io.BytesIO(archive_path.read_bytes()))
    document = json.loads(archive.read("contact.json"))
    assert document["contact"]["email"] == ALICE
    assert document["contact"]["name"] == CANARIES["name"]
    assert document["contact"]["account"] == "Alice Co"
    assert [t["number"] for t in document["tickets"]] == [number]
    assert document["tickets"][0]["subject"] == CANARIES["subject"]
    emls = sorted(n for n in archive.namelist() if n.endswith(".eml"))
    assert emls == [m["file"] for m in document["messages"]] and len(emls) == 2
    texts = []
    for name in emls:
        message = message_from_bytes(archive.read(name), policy=policy.default)
        assert message["From"].addresses[0].addr_spec == ALICE
        texts.append(message.get_body(("plain",)).get_content())
    assert CANARIES["body"] in texts[0] and CANARIES["follow_up"] in texts[1]
    everything = b"".join(archive.read(n) for n in archive.namelist())
    for other in ("colleague", "note", "reply", "stranger"):  # others' words, notes: never
        assert CANARIES[other].encode() not in everything, other
    assert (f"os:{getpass.getuser()}", "export") in audit_entries(desk.db)


def test_erasure_shreds_the_contact_and_keeps_the_ticket_structure(desk, tmp_path, capsys):
    number = realistic_run(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/complaint\n/status resolved"))
    desk.settle()
    cfg = cli_config(tmp_path, desk)
    with desk.db.write() as session:  # a refusal naming her, as a smarthost words one
        refusal = f"{ALICE.upper()}: 450 4.2.1 mailbox busy"
        session.execute(update(Outbox).where(Outbox.ticket_id == number).values(last_error=refusal))
    before = run_json(capsys, cfg, "tickets", "show", str(number))
    assert {m["last_error"] for m in before["mail"]} == {refusal}
    code, out, err = run_cli(capsys, cfg, "privacy", "erase", ALICE)
    assert code == 0, err
    after = run_json(capsys, cfg, "tickets", "show", str(number))
    for key in ("number", "status", "category", "created_at", "first_response_at"):
        assert after[key] == before[key], key  # what a complaint record must keep
    assert (after["category"], after["status"]) == ("complaint", "resolved")
    assert after["requester"] == "erased contact" and after["subject"] == "[erased]"
    bodies = {m["author"]: m["body"] for m in after["messages"]}
    assert bodies["erased contact"] == "[erased]"
    assert bodies["bob@customer.example"] == CANARIES["colleague"]  # others stay readable
    staff_bodies = [m["body"] for m in after["messages"] if m["author"] == "agent@support.example"]
    assert CANARIES["reply"] in staff_bodies[0] and CANARIES["note"] in staff_bodies[1]
    assert len(after["messages"]) == len(before["messages"])
    assert ALICE.encode() not in stored_bytes(desk.db)  # nor in clear columns
    assert ALICE not in json.dumps(after["mail"]).lower()  # in any letter case
    assert CANARIES["name"] not in json.dumps(run_json(capsys, cfg, "contacts", "list"))
    assert (f"os:{getpass.getuser()}", "erase") in audit_entries(desk.db)
    # the address now belongs to no one: a new mail from it is an unknown sender's
    desk.send(mail(sender=ALICE, body="still there?"))
    desk.settle()
    with desk.db.read() as session:
        assert ALICE in session.exec(select(Quarantine.sender)).all()
        assert len(session.exec(select(Ticket)).all()) == 1


def test_a_restored_backup_does_not_bring_the_erased_contact_back(desk, tmp_path, capsys):
    number = realistic_run(desk)
    with desk.db.read() as session:  # the data keys as a backup taken now holds them
        backup = [(k.id, k.wrapped, k.master_key_id) for k in session.exec(select(DataKey))]
        alice_key = directory.contact_by_email(session, ALICE).key_id
    cfg = cli_config(tmp_path, desk)
    assert run_cli(capsys, cfg, "privacy", "erase", ALICE)[0] == 0
    with desk.db.write() as session:  # "restore" the backup's data keys
        for key_id, wrapped, master in backup:
            session.execute(
                update(DataKey).where(DataKey.id == key_id)
                .values(wrapped=wrapped, master_key_id=master, destroyed_at=None)
            )  # fmt: skip
    document = run_json(capsys, cfg, "tickets", "show", str(number))
    assert document["subject"] == "[erased]"  # the key file lists the key as erased
    assert run_cli(capsys, cfg, "init")[0] == 0  # and init destroys it again
    with desk.db.read() as session:
        assert session.get(DataKey, alice_key).wrapped is None
        assert all(k.wrapped for k in session.exec(select(DataKey)) if k.id != alice_key)


def test_cli_reads_of_personal_data_are_audited(desk, tmp_path, capsys):
    number = realistic_run(desk)
    cfg = cli_config(tmp_path, desk)
    run_json(capsys, cfg, "tickets", "show", str(number))
    run_json(capsys, cfg, "tickets", "list")
    run_json(capsys, cfg, "contacts", "list")
    user = f"os:{getpass.getuser()}"
    assert audit_entries(desk.db) == [
        (user, "tickets show"), (user, "tickets list"), (user, "contacts list")
    ]  # fmt: skip
    with desk.db.read() as session:
        shown = session.exec(select(Event).where(Event.kind == "personal-data-access")).first()
    assert shown.ticket_id == number and shown.at is not None


def test_correction_changes_name_and_language(desk, tmp_path, capsys):
    cfg = cli_config(tmp_path, desk)
    code, _, err = run_cli(capsys, cfg, "privacy", "correct", ALICE, "--name", "Alice Martin",
                           "--language", "fr")  # fmt: skip
    assert code == 0, err
    with desk.db.read() as session:
        contact = directory.contact_by_email(session, ALICE)
    assert (contact.name, contact.language) == ("Alice Martin", "fr")
    assert run_cli(capsys, cfg, "privacy", "erase", "nobody@customer.example")[0] == 1


@pytest.mark.parametrize("command", ["export", "erase"])
def test_unknown_contact_is_refused(desk, tmp_path, capsys, command):
    extra = ["--output", str(tmp_path / "x.zip")] if command == "export" else []
    code, out, err = run_cli(capsys, cli_config(tmp_path, desk), "privacy", command,
                             "nobody@customer.example", *extra)  # fmt: skip
    assert code == 1 and "no contact nobody@customer.example" in err


def test_erasing_a_colleague_leaves_no_copy_of_them_on_the_requesters_ticket(
    desk, tmp_path, capsys
):
    """Bob wrote on Alice's ticket: the mail about it (the staff notification quoting him)
    is sealed under Alice's key, which lives on. Erasing Bob lets those copies go too, and
    Alice's own data stays."""
    number = realistic_run(desk)
    bob = "bob@customer.example"
    with desk.db.write() as session:  # one copy naming Bob was given up: it must not go again
        given_up = [row.id for row in session.exec(select(Outbox).where(Outbox.ticket_id == number))
                    if bob.encode() in row.raw]  # fmt: skip
        session.execute(update(Outbox).where(Outbox.id == given_up[0])
                        .values(status="failed", last_error="550 gone"))  # fmt: skip
    readable = readable_text(desk.db)
    assert bob in readable and CANARIES["colleague"] in readable
    cfg = cli_config(tmp_path, desk)
    code, out, err = run_cli(capsys, cfg, "privacy", "erase", bob)
    assert code == 0, err
    # read as a process started now would (the running one may hold Bob's key in memory)
    fresh = Database(desk.config.database.url,
                     vault=Vault(desk.config.path(desk.config.privacy.key_file)))  # fmt: skip
    readable = readable_text(fresh)
    assert bob not in readable.lower() and CANARIES["colleague"] not in readable
    for alices in ("subject", "body", "reply", "follow_up"):
        assert CANARIES[alices] in readable, alices
    assert run_cli(capsys, cfg, "outbox", "retry")[0] == 0
    with desk.db.read() as session:
        assert session.get(Outbox, given_up[0]).status == "failed"  # nothing left to send
