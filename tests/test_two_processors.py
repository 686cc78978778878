"""Two processors on one database (two hosts on PostgreSQL, or a processor restarted while the
old one still runs): a mail one of them applies while the other has it in hand is applied once.
One ticket and one confirmation a mail, whoever took it."""

from __future__ import annotations

import json

from conftest import add_contact, mail, make_config
from sqlmodel import select

from gateway import intake
from gateway.app import Gateway
from gateway.core.model import Envelope
from gateway.core.reading import read_mail
from gateway.store.tables import Inbound, Outbox, Ticket

SENDERS = [f"customer{n}@customer.example" for n in range(5)]


def test_mail_taken_by_the_other_processor_meanwhile_is_applied_once(tmp_path, db_url, clock):
    first = Gateway(make_config(tmp_path, db_url), clock=clock)
    first.init()
    second = Gateway(make_config(tmp_path, db_url), clock=clock)
    try:
        for sender in SENDERS:
            add_contact(first.db, sender)
        raws = [
            intake.RawMail(
                mail(sender=s, subject=f"Help {n}").as_bytes(),
                Envelope(s, ("support@support.example",)),
            )
            for n, s in enumerate(SENDERS)
        ]
        intake.accept(first.db, raws, clock(), "support.example")

        # The first processor has read the pending rows and is reading their mail when the
        # second one takes and applies them all.
        taken_meanwhile = []

        def read_while_the_other_applies(raw: bytes, message_id: str):
            if not taken_meanwhile:
                taken_meanwhile.append(second.processor.run_once())
            return read_mail(raw, message_id)

        first.processor.reader = read_while_the_other_applies
        assert first.processor.run_once() == (0, 0)
        assert taken_meanwhile == [(len(SENDERS), len(SENDERS))]

        with first.db.read() as session:
            tickets = sorted(t.subject for t in session.exec(select(Ticket)))
            statuses = [row.status for row in session.exec(select(Inbound))]
            confirmed = sorted(
                json.loads(row.rcpt_to)[0]
                for row in session.exec(select(Outbox).where(Outbox.kind == "confirmation"))
            )
        assert tickets == sorted(f"Help {n}" for n in range(len(SENDERS)))
        assert statuses == ["done"] * len(SENDERS)
        assert confirmed == sorted(SENDERS)
    finally:
        first.db.dispose()
        second.db.dispose()
