"""A database made by the previous version keeps working after an upgrade: `gateway init` (and
`serve`) add the columns and indexes it lacks, once, and stop with one line, changing nothing,
when adding is not enough.

The previous version's database is made the way it differed: today's schema with what this
version added taken away again, on SQLite and PostgreSQL, holding mail stored before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from conftest import RunningGateway, add_contact, key_file, mail, make_config
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool
from sqlmodel import select
from test_cli import run_cli, write_config
from test_inline_images import PNG, cids, customer_mail_with_screenshot, html_and_images
from test_staff_flow import AUTHSERV, add_staff, last

from gateway.app import Gateway
from gateway.cli import main
from gateway.store import sealing
from gateway.store.db import Database
from gateway.store.tables import Attachment
from gateway.store.vault import Vault

# Columns and indexes recent versions added, taken away again, and the indexes they retired
# put back.
NEW_INDEXES = (
    "ix_ticket_category_status", "ix_ticket_paused", "ix_ticket_status_resolved_at",
    "ix_ticket_status_sla_due_at", "ix_message_created_at",
)  # fmt: skip
RETIRED = {
    "ix_ticket_category": "category", "ix_ticket_pending_since": "pending_since",
    "ix_ticket_sla_due_at": "sla_due_at", "ix_ticket_status": "status",
}  # fmt: skip
PREVIOUS_VERSION = (
    "ALTER TABLE attachment DROP COLUMN content_id",
    "ALTER TABLE attachment DROP COLUMN inline",
    *(f"DROP INDEX {name}" for name in NEW_INDEXES),
    *(f"CREATE INDEX {name} ON ticket ({column})" for name, column in RETIRED.items()),
)
UPGRADED = [
    "database upgraded: added attachment.content_id",
    "database upgraded: added attachment.inline",
    *(f"database upgraded: added index {name}" for name in NEW_INDEXES),
    *(f"database upgraded: dropped index {name}" for name in RETIRED),
]


@pytest.fixture(autouse=True)
def no_gateway_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("GATEWAY_") and name != "GATEWAY_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


@contextmanager
def running(tmp_path, db_url, clock, sink) -> Iterator[RunningGateway]:
    """A gateway started (`init`, then serve) on the database, with a staff member."""
    config = make_config(
        tmp_path, db_url, outbound={"mode": "smtp", "host": "127.0.0.1", "port": sink.port},
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"},
    )  # fmt: skip
    gateway = Gateway(config, clock=clock)
    gateway.init()
    gateway.start()
    try:
        yield RunningGateway(gateway, sink)
    finally:
        gateway.stop()


def alter(db_url: str, *statements: str) -> None:
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)
    engine.dispose()


def schema_of(db_url: str) -> dict[str, tuple]:
    """Each table's columns (name, type, nullable) and index names, as the database has them."""
    engine = create_engine(db_url, poolclass=NullPool)
    with engine.connect() as connection:
        found = inspect(connection)
        schema = {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
                sorted(i["name"] for i in found.get_indexes(table)),
            )
            for table in found.get_table_names()
        }
    engine.dispose()
    return schema


def stored_attachments(db_url: str, tmp_path) -> list[tuple]:
    """(filename, content_id, inline, erased) of every attachment, read as the gateway reads."""
    db = Database(db_url, vault=Vault(key_file(tmp_path)))
    try:
        with db.read() as session:
            rows = session.exec(select(Attachment).order_by(Attachment.id)).all()
            return [(r.filename, r.content_id, r.inline, sealing.is_erased(r)) for r in rows]
    finally:
        db.dispose()


def site_config(tmp_path, db_url):
    """A config file for `gateway init` on the same database and key file."""
    return write_config(
        tmp_path / "site", db_url, privacy={"key_file": str(key_file(tmp_path))},
        outbound={"maildir": "var/outbox"},
    )  # fmt: skip


def previous_versions_database(tmp_path, db_url, clock, sink, erased=False) -> None:
    """Mail with an attachment stored (its sender `erased` on request, if asked), then the
    database taken back to the previous version."""
    with running(tmp_path, db_url, clock, sink) as gw:
        add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
        add_staff(gw.db, "agent@support.example", "Sam Agent")
        old = mail(subject="Invoice", body="The invoice is attached.")
        old.add_attachment(b"%PDF-1.4 old invoice", maintype="application", subtype="pdf",
                           filename="old-invoice.pdf")  # fmt: skip
        gw.send(old)
        gw.settle()
    if erased:
        assert main(["--config", str(site_config(tmp_path, db_url)), "privacy", "erase",
                     "alice@customer.example"]) == 0  # fmt: skip
    alter(db_url, *PREVIOUS_VERSION)
    columns = [name for name, _, _ in schema_of(db_url)["attachment"][0]]
    assert "content_id" not in columns and "inline" not in columns


def test_previous_versions_database_is_upgraded_and_keeps_its_mail(
    tmp_path, db_url, clock, sink, capsys, caplog
):
    previous_versions_database(tmp_path, db_url, clock, sink)
    config = site_config(tmp_path, db_url)
    caplog.set_level(logging.INFO, logger="gateway.store.db")

    code, _, err = run_cli(capsys, config, "init")

    assert code == 0, err
    assert [r.getMessage() for r in caplog.records if "upgraded" in r.getMessage()] == UPGRADED
    upgraded = schema_of(db_url)
    assert {"content_id", "inline"} <= {name for name, _, _ in upgraded["attachment"][0]}
    indexes = set(upgraded["ticket"][1] + upgraded["message"][1])
    assert indexes >= set(NEW_INDEXES) and not indexes & RETIRED.keys()
    # The old attachment reads back with the defaults: no Content-ID, not inline, not erased.
    assert stored_attachments(db_url, tmp_path) == [("old-invoice.pdf", "", False, False)]

    # New mail with an inline image is stored and reaches staff with the image in place.
    with running(tmp_path, db_url, clock, sink) as gw:
        gw.send(customer_mail_with_screenshot())
        gw.settle()
        html, images = html_and_images(last(gw, "agent@support.example").message)
    assert cids(html) == ["err1@customer.example"]
    assert images["err1@customer.example"].get_content() == PNG
    assert stored_attachments(db_url, tmp_path) == [
        ("old-invoice.pdf", "", False, False),
        ("error.png", "err1@customer.example", True, False),
        ("invoice.pdf", "", False, False),
    ]


def test_an_erased_customers_old_attachment_stays_erased(tmp_path, db_url, clock, sink, capsys):
    previous_versions_database(tmp_path, db_url, clock, sink, erased=True)

    assert run_cli(capsys, site_config(tmp_path, db_url), "init")[0] == 0

    # The new column reveals nothing and needs no destroyed key; the rest stays unreadable.
    assert stored_attachments(db_url, tmp_path) == [("[erased]", "", False, True)]


def test_upgrading_again_changes_nothing(tmp_path, db_url, clock, sink, capsys, caplog):
    previous_versions_database(tmp_path, db_url, clock, sink)
    config = site_config(tmp_path, db_url)
    assert run_cli(capsys, config, "init")[0] == 0
    schema, stored = schema_of(db_url), stored_attachments(db_url, tmp_path)
    caplog.set_level(logging.INFO, logger="gateway.store.db")

    code, _, err = run_cli(capsys, config, "init")

    assert code == 0, err
    assert not [r for r in caplog.records if "upgraded" in r.getMessage()]
    assert schema_of(db_url) == schema
    assert stored_attachments(db_url, tmp_path) == stored


def test_a_current_database_is_left_as_it_is(db, db_url, caplog):
    schema = schema_of(db_url)
    caplog.set_level(logging.INFO, logger="gateway.store.db")
    db.create_schema()
    assert not [r for r in caplog.records if "upgraded" in r.getMessage()]
    assert schema_of(db_url) == schema


IMPOSSIBLE = {
    "a column this version does not have": (
        ["ALTER TABLE ticket ADD COLUMN legacy_flag INTEGER"],
        "ticket.legacy_flag is in the database but not in this version",
    ),
    "a column of another type": (
        [
            "ALTER TABLE rating DROP COLUMN comment",
            "ALTER TABLE rating ADD COLUMN comment TEXT NOT NULL DEFAULT ''",
        ],  # fmt: skip
        "rating.comment is TEXT in the database but",
    ),
    "a NOT NULL column with no single default": (
        ["ALTER TABLE attachment DROP COLUMN row_key"],
        "attachment.row_key is missing and NOT NULL with no single default",
    ),
}


@pytest.mark.parametrize("case", IMPOSSIBLE, ids=list(IMPOSSIBLE))
def test_an_impossible_upgrade_stops_with_one_line_and_changes_nothing(
    tmp_path, db_url, clock, sink, capsys, case
):
    previous_versions_database(tmp_path, db_url, clock, sink)
    statements, problem = IMPOSSIBLE[case]
    alter(db_url, *statements)
    schema = schema_of(db_url)

    code, out, err = run_cli(capsys, site_config(tmp_path, db_url), "init")

    assert code == 1
    assert err.count("\n") == 1 and err.startswith("gateway: cannot upgrade the database: ")
    assert problem in err and "by hand" in err
    assert "database ready" not in out
    assert schema_of(db_url) == schema  # attachment.content_id and .inline not added either
