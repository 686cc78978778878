"""A client that hangs up while its mail waits for the commit must not stop the listener.

The hang-up cancelled the future the intake writer settles; setting a cancelled future's
result raised in the writer's thread and ended it, and every sender after that waited for an
answer that never came. The mail of the client that left is stored all the same.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from email import policy

from conftest import mail
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlmodel import select

from gateway.store.tables import Inbound


@contextlib.contextmanager
def spool_held(db_url: str) -> Iterator[None]:
    """Another process writing: new spool rows wait (SQLite: the whole file is locked;
    PostgreSQL: the table, for writers only)."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(url.database, isolation_level=None, timeout=5)
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("LOCK TABLE inbound IN EXCLUSIVE MODE")
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def test_a_client_hanging_up_before_its_answer_leaves_the_listener_answering(start_gateway, db_url):
    gw = start_gateway()
    raw = mail(subject="Hung up").as_bytes(policy=policy.SMTP)
    with spool_held(db_url):
        client = gw.smtp()
        client.ehlo()
        client.mail("alice@customer.example")
        client.rcpt(gw.support)
        client.putcmd("data")
        assert client.getreply()[0] == 354
        client.send(raw + b".\r\n")
        time.sleep(0.5)  # the mail now waits for the spool
        client.close()  # gone without waiting for the answer
        time.sleep(0.3)  # the listener has seen it go
    code, text = gw.send(mail(subject="Next"))
    assert code == 250, text

    def subjects() -> list[bytes]:
        with gw.db.read() as session:
            rows = session.exec(select(Inbound).order_by(Inbound.id))
            return [line for row in rows for line in row.raw.splitlines() if b"Subject" in line]

    gw.wait_for(lambda: len(subjects()) == 2)
    assert sorted(subjects()) == [b"Subject: Hung up", b"Subject: Next"]
