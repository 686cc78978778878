"""Encryption at rest: a copy of the database holds no plaintext personal data, a ciphertext
moved to another row or column does not open, and the master key rotates while mail flows."""

from __future__ import annotations

import json
import stat

import pytest
from conftest import add_contact, mail
from privacy_scan import found, readable_text, stored_bytes
from sqlalchemy import text
from sqlmodel import select
from test_cli import cli_config, run_cli, run_json
from test_staff_flow import AUTHSERV, add_staff, last, staff_mail

from gateway.store import directory, ratings, repo
from gateway.store.tables import Contact, DataKey, Message, Ticket
from gateway.store.vault import SealBroken, Vault

CANARIES = {
    "name": "Zoltan Canaryname",
    "subject": "CANARY-subject-4c1e",
    "body": "CANARY-body-9b2d",
    "html": "CANARY-html-77aa",
    "attachment": "CANARY-attachment-content-31f0",
    "filename": "CANARY-file-e5d1",
    "colleague": "CANARY-colleague-0c4b",
    "reply": "CANARY-staff-reply-a6e9",
    "note": "CANARY-internal-note-58c3",
    "follow_up": "CANARY-follow-up-d2f7",
    "stranger": "CANARY-stranger-1aa9",
}


@pytest.fixture
def desk(start_gateway):
    return make_desk(start_gateway)


def make_desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"}
    )
    add_contact(gw.db, "alice@customer.example", name=CANARIES["name"], account="Alice Co")
    add_contact(gw.db, "bob@customer.example", name="Bob", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    return gw


def realistic_run(gw) -> int:
    """A ticket with an attachment, a colleague's message, a staff reply, an internal note,
    the customer's follow-up, and a stranger's mail held; returns the ticket number."""
    first = mail(subject=CANARIES["subject"], body=f"Hello,\n{CANARIES['body']}\n")
    first.add_alternative(f"<p>{CANARIES['html']}</p>", subtype="html")
    first.add_attachment(CANARIES["attachment"].encode(), maintype="text", subtype="plain",
                         filename=f"{CANARIES['filename']}.txt")  # fmt: skip
    gw.send(first)
    gw.settle()
    with gw.db.read() as session:
        number = session.exec(select(Ticket.id)).one()
    gw.send(mail(sender="bob@customer.example", subject=f"Re: [VB #{number}] more",
                 body=CANARIES["colleague"]))  # fmt: skip
    gw.settle()
    gw.send(staff_mail(last(gw, "agent@support.example"), CANARIES["reply"]))
    gw.settle()
    gw.send(staff_mail(last(gw, "agent@support.example"), f"/note\n{CANARIES['note']}"))
    gw.settle()
    relayed = last(gw, "alice@customer.example").message
    gw.send(mail(to=relayed["Reply-To"], subject="Re: " + relayed["Subject"],
                 body=CANARIES["follow_up"], In_Reply_To=relayed["Message-ID"]))  # fmt: skip
    gw.send(mail(sender="stranger@elsewhere.example", body=CANARIES["stranger"]))
    gw.settle()
    return number


def test_database_copy_holds_no_plaintext_canary(desk):
    number = realistic_run(desk)
    readable = readable_text(desk.db)
    assert found(list(CANARIES.values()), readable.encode()) == list(CANARIES.values())
    assert found(list(CANARIES.values()), stored_bytes(desk.db)) == []
    with desk.db.read() as session:
        assert len(repo.ticket_messages(session, number)) == 5  # the scan saw a full ticket


def test_key_file_is_owner_only_and_outside_the_database(desk):
    path = desk.config.path(desk.config.privacy.key_file)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = json.loads(path.read_text())["keys"]
    realistic_run(desk)
    dump = stored_bytes(desk.db)
    assert all(key.encode() not in dump for key in keys.values())


def test_address_lookup_uses_a_keyed_digest(desk):
    with desk.db.read() as session:
        contact = directory.contact_by_email(session, "ALICE@customer.example")
        assert contact.name == CANARIES["name"]
        assert "alice" not in contact.email_hmac
    assert b"alice@customer.example" not in stored_bytes(desk.db)  # no mail yet: only contacts


def transplant(db, table: str, column: str, source_id: int, target_id: int, target_column=None):
    """Copy one sealed value to another row (or column) with plain SQL, as an intruder would."""
    with db.write() as session:
        value = session.execute(
            text(f"SELECT {column} FROM {table} WHERE id = :id"), {"id": source_id}
        ).scalar_one()
        session.execute(
            text(f"UPDATE {table} SET {target_column or column} = :v WHERE id = :id"),
            {"v": value, "id": target_id},
        )


def test_ciphertext_moved_to_another_row_does_not_open(desk):
    realistic_run(desk)
    desk.send(mail(subject="Second ticket", body="other"))
    desk.settle()
    transplant(desk.db, "ticket", "subject", 1, 2)
    with pytest.raises(SealBroken, match="altered or moved"), desk.db.read() as session:
        session.get(Ticket, 2)
    with desk.db.read() as session:
        assert session.get(Ticket, 1).subject == CANARIES["subject"]  # the source is intact
    alice, bob = _contact_ids(desk.db)
    transplant(desk.db, "contact", "name", alice, bob)
    with pytest.raises(SealBroken), desk.db.read() as session:
        session.get(Contact, bob)


def test_ciphertext_moved_to_another_column_does_not_open(desk):
    realistic_run(desk)
    with desk.db.read() as session:
        message_id = session.exec(select(Message.id)).first()
    transplant(desk.db, "message", "body_text", message_id, message_id, target_column="new_text")
    with pytest.raises(SealBroken), desk.db.read() as session:
        session.get(Message, message_id)


def _contact_ids(db) -> tuple[int, int]:
    with db.read() as session:
        alice = directory.contact_by_email(session, "alice@customer.example").id
        bob = directory.contact_by_email(session, "bob@customer.example").id
    return alice, bob


def test_key_rotation_runs_online(desk, tmp_path, capsys):
    number = realistic_run(desk)
    key_file = desk.config.path(desk.config.privacy.key_file)
    old = json.loads(key_file.read_text())["current"]
    cfg = cli_config(tmp_path, desk)
    code, out, err = run_cli(capsys, cfg, "keys", "rotate")
    assert code == 0, err
    document = json.loads(key_file.read_text())
    assert list(document["keys"]) == [document["current"]] != [old]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    status = run_json(capsys, cfg, "keys", "status")
    assert status["master_keys"][document["current"]] >= 4  # company, index, alice, bob
    assert status["data_keys_under_missing_master_keys"] == {}
    # the running gateway goes on: new contact, new mail, old data readable
    add_contact(desk.db, "carol@customer.example", name="Carol", account="Alice Co")
    desk.send(mail(sender="carol@customer.example", subject="After rotation", body="new"))
    desk.settle()
    fresh = Vault(key_file)  # a process started after the rotation
    with desk.db.read() as session:
        session.info["vault"] = fresh
        assert session.get(Ticket, number).subject == CANARIES["subject"]
        subjects = [t.subject for t, _ in repo.list_tickets(session, None, 10)]
        assert "After rotation" in subjects


def test_old_master_key_stays_usable_until_the_rewrap_completes(desk):
    realistic_run(desk)
    vault = desk.db.vault
    old = vault.keys.current()[0]
    new = vault.keys.add()
    with desk.db.write() as session:
        assert vault.rewrap(session.connection(), limit=1) == 1
    with desk.db.read() as session:
        masters = set(session.exec(select(DataKey.master_key_id)))
    assert masters == {old, new}  # half done: both keys in use, both in the file
    reader = Vault(vault.keys.path)
    with desk.db.read() as session:
        session.info["vault"] = reader
        assert CANARIES["body"] in readable_text_of(session)
    with desk.db.write() as session:
        while vault.rewrap(session.connection()):
            pass
    vault.keys.retire_others()
    reader = Vault(vault.keys.path)
    with desk.db.read() as session:
        session.info["vault"] = reader
        assert CANARIES["body"] in readable_text_of(session)
        assert set(session.exec(select(DataKey.master_key_id))) == {new}


def readable_text_of(session) -> str:
    return "\n".join(m.body_text for m in session.exec(select(Message)))


def test_rating_comment_is_sealed(desk):
    realistic_run(desk)
    comment = "CANARY-rating-comment-6e0b"
    with desk.db.write() as session:
        reply = session.exec(
            select(Message).where(Message.author_staff_id.is_not(None))
            .where(Message.visibility == "public")
        ).first()  # fmt: skip
        alice = directory.contact_by_email(session, "alice@customer.example")
        ratings.record(session, reply, alice.id, 5, comment, "web", desk.gw.clock())
        ratings.record(session, reply, alice.id, 4, comment + "-2", "mail", desk.gw.clock())
    with desk.db.read() as session:
        assert ratings.rating_of(session, reply.id, alice.id).comment == comment + "-2"
    assert found([comment], stored_bytes(desk.db)) == []
