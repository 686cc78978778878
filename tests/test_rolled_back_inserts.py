"""Tickets and messages are written with one statement each and attached to the session by
hand, so a rolled-back savepoint must let go of the rows it took away: SQLite gives their ids
again, and the next ticket with the same id must be stored and found, not refused as a
duplicate of a row that no longer exists. Rows written before the savepoint stay."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import add_contact
from sqlalchemy import text
from sqlmodel import select

from gateway.store import repo
from gateway.store.tables import Contact, Message, Ticket
from gateway.store.vault import Vault

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _ticket(session, contact: Contact, subject: str) -> Ticket:
    return repo.create_ticket(
        session, subject=subject, requester_id=contact.id, account_id=contact.account_id,
        created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def _message(session, ticket: Ticket, contact: Contact, text: str) -> Message:
    return repo.add_message(
        session, ticket_id=ticket.id, direction="in", visibility="public",
        author_contact_id=contact.id, author_email=contact.email, message_id=f"<{text}@x>",
        header_message_id=f"<{text}@x>", subject=text, body_text=text, new_text=text,
        created_at=NOW,
    )  # fmt: skip


def _reply(session, ticket: Ticket, text: str) -> Message:
    """Staff's words to the ticket's customer: sealed under the customer's key."""
    return repo.add_message(
        session, ticket_id=ticket.id, direction="out", visibility="public",
        author_email="agent@support.example", message_id=f"<{text}@x>",
        header_message_id=f"<{text}@x>", subject=text, body_text=text, new_text=text,
        created_at=NOW,
    )  # fmt: skip


def test_rows_of_a_rolled_back_savepoint_are_let_go_and_their_ids_reused(db):
    add_contact(db, "alice@customer.example")
    with db.write() as session:
        alice = session.exec(select(Contact)).one()
        before = _ticket(session, alice, "Kept")
        with pytest.raises(RuntimeError), session.begin_nested():
            gone = _ticket(session, alice, "Rolled back")
            with session.begin_nested():  # released, then rolled back with its parent
                gone_message = _message(session, gone, alice, "gone")
            raise RuntimeError("this mail failed")
        assert gone not in session and gone_message not in session
        assert before in session
        again = _ticket(session, alice, "Stored after")
        _message(session, again, alice, "kept")
        assert repo.get_ticket(session, again.id) is again
    with db.read() as session:
        assert [t.subject for t in session.exec(select(Ticket).order_by(Ticket.id))] == [
            "Kept",
            "Stored after",
        ]
        assert [m.subject for m in session.exec(select(Message))] == ["kept"]


def test_a_ticket_that_takes_a_rolled_back_ticket_s_id_is_sealed_for_its_own_customer(db):
    """The data key remembered for a ticket id must not outlive the ticket: Bob's mail must not
    be sealed under Alice's key (erasing her would make it unreadable, erasing him would not)."""
    add_contact(db, "alice@customer.example", account="Alice Co")
    add_contact(db, "bob@other.example", account="Bob Ltd")
    with db.write() as session:
        alice, bob = (repo.find_contact(session, a) for a in ("alice@customer.example",
                                                              "bob@other.example"))  # fmt: skip
        alice, bob = session.get(Contact, alice.id), session.get(Contact, bob.id)
        with pytest.raises(RuntimeError), session.begin_nested():
            gone = _ticket(session, alice, "Alice's, rolled back")
            _reply(session, gone, "to-alice")  # sealed under the ticket's (Alice's) key
            raise RuntimeError("this mail failed")
        again = _ticket(session, bob, "Bob's")
        _reply(session, again, "to-bob")
        bob_key = bob.key_id
        assert (again.id == gone.id) or db.is_sqlite is False  # the case: the id given again
    with db.read() as session:
        [sealed] = session.execute(text("SELECT body_text FROM message")).scalars()
    assert Vault.key_of(sealed) == bob_key
