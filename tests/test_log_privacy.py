"""The log names rows and kinds of error, never what a mail holds (research case 49): a
failure while a customer's mail is applied logs its spool id, not the statement's values (their
address, name, words or a card number), and the error kept with the parked row holds none of
them either. Both are read by people who are not meant to read customers' mail."""

from __future__ import annotations

import json
import logging

from conftest import add_contact, mail
from test_db_outage import rows, run_cli, send

from gateway.store.tables import Inbound, Ticket

ALICE = "alice@customer.example"
# Words only the customer's mail holds; none may reach the log or the error column.
CANARIES = ["alice@customer.example", "customer.example", "Alice Canary-Name", "Zq7-SUBJECT",
            "Zq7-BODY", "4111", "1111"]  # fmt: skip


def test_a_failure_applying_mail_logs_ids_not_personal_data(gateway, tmp_path, caplog):
    gw = gateway
    caplog.set_level(logging.DEBUG)
    add_contact(gw.db, ALICE, name="Alice Canary-Name")
    with gw.db.writer.begin() as connection:  # every change's audit record fails to be written
        connection.exec_driver_sql("DROP TABLE event")
    message = mail(subject="Zq7-SUBJECT card", body="Zq7-BODY: my card is 4111 1111 1111 1111")
    code, reply = send(gw, message)
    assert code == 250, reply
    gw.settle()

    [failed] = json.loads(run_cli(gw, tmp_path, "inbound", "list", "--status", "failed", "--json"))
    assert "no such table" in failed["error"] or "does not exist" in failed["error"]
    assert f"inbound {failed['id']} failed: OperationalError" in caplog.text or (
        f"inbound {failed['id']} failed: ProgrammingError" in caplog.text
    )
    for canary in CANARIES:
        assert canary not in caplog.text, canary
        assert canary not in failed["error"], canary

    run_cli(gw, tmp_path, "init")  # the operator repairs the schema and retries: nothing lost
    run_cli(gw, tmp_path, "inbound", "retry")
    gw.settle()
    assert {r.status for r in rows(gw.db, Inbound)} == {"done"}
    assert [t.subject for t in rows(gw.db, Ticket)] == ["Zq7-SUBJECT card"]
    assert any("Zq7-SUBJECT" in m.message["Subject"] for m in gw.sink.to(ALICE))  # confirmed


class _Exploding:
    """A mail sender with a bug: its error quotes the recipient, as library errors do."""

    def __init__(self, inner):
        self.inner = inner

    def send(self, mail_from, rcpts, raw):
        raise RuntimeError(f"cannot hand over mail for {rcpts[0]}: {raw!r}")

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_unexpected_failure_logs_where_it_happened_not_what_it_said(gateway, caplog):
    caplog.set_level(logging.DEBUG)
    add_contact(gateway.db, ALICE, name="Alice Canary-Name")
    gateway.gw.delivery.sender = _Exploding(gateway.gw.delivery.sender)
    code, _ = send(gateway, mail(subject="Zq7-SUBJECT", body="Zq7-BODY"))
    assert code == 250
    gateway.settle()  # the confirmation's delivery meets the bug, and is put off
    assert "failed unexpectedly: RuntimeError (its message is not logged)" in caplog.text
    assert "in send" in caplog.text  # the frames say where
    for canary in CANARIES:
        assert canary not in caplog.text, canary
