"""Concurrent SMTP sessions are committed together; a mail the database refuses must cost only
its own sender a retry (451), never the neighbours committed in the same batch."""

from __future__ import annotations

import pytest
from conftest import mail
from sqlalchemy import text
from sqlmodel import select

from gateway.core.model import Envelope
from gateway.intake import GroupCommitter, RawMail
from gateway.store.tables import Inbound

SUPPORT = "support@support.example"
POISON = "poison@customer.example"

SQLITE_TRIGGER = f"""
CREATE TRIGGER refuse_poison BEFORE INSERT ON inbound WHEN NEW.mail_from = '{POISON}'
BEGIN SELECT RAISE(ABORT, 'this row is refused'); END
"""
POSTGRES_TRIGGER = [
    f"""CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN
        IF NEW.mail_from = '{POISON}' THEN RAISE EXCEPTION 'this row is refused'; END IF;
        RETURN NEW; END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON inbound "
    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
]


def refuse_one_sender(db) -> None:
    """A database that refuses one particular row, as a constraint or a driver would."""
    statements = [SQLITE_TRIGGER] if db.is_sqlite else POSTGRES_TRIGGER
    with db.write() as session:
        for statement in statements:
            session.execute(text(statement))


def raw_mail(sender: str, subject: str) -> RawMail:
    message = mail(sender=sender, subject=subject)
    return RawMail(message.as_bytes(), Envelope(sender, (SUPPORT,), source="smtp"))


def test_one_refused_mail_in_a_batch_leaves_the_others_committed(db, clock):
    refuse_one_sender(db)
    commits = []
    committer = GroupCommitter(db, clock, "support.example", on_commit=lambda: commits.append(1))
    # Submitted before the writer starts, so all three are taken in one batch.
    good = committer.submit(raw_mail("alice@customer.example", "First"))
    bad = committer.submit(raw_mail(POISON, "Refused"))
    also_good = committer.submit(raw_mail("bob@customer.example", "Second"))
    committer.start()
    try:
        first, second = good.result(timeout=10), also_good.result(timeout=10)
        with pytest.raises(Exception, match="refused"):
            bad.result(timeout=10)
    finally:
        committer.stop()
    assert first.inbound_id != second.inbound_id and not first.duplicate
    with db.read() as session:
        senders = sorted(row.mail_from for row in session.exec(select(Inbound)))
    assert senders == ["alice@customer.example", "bob@customer.example"]
    assert commits  # the processor is woken for what was stored


def test_a_future_cancelled_while_waiting_neither_stops_the_writer_nor_loses_its_mail(db, clock):
    committer = GroupCommitter(db, clock, "support.example", on_commit=lambda: None)
    gone = committer.submit(raw_mail("alice@customer.example", "Waiter went away"))
    assert gone.cancel()  # what asyncio.wrap_future does when its SMTP client hangs up
    stays = committer.submit(raw_mail("bob@customer.example", "Still waiting"))
    committer.start()
    try:
        assert not stays.result(timeout=10).duplicate
        later = committer.submit(raw_mail("carol@customer.example", "After it"))
        assert not later.result(timeout=10).duplicate
    finally:
        committer.stop()
    with db.read() as session:
        senders = sorted(row.mail_from for row in session.exec(select(Inbound)))
    assert senders == ["alice@customer.example", "bob@customer.example", "carol@customer.example"]
