"""`schema.sql` is generated from the models; this keeps the two from drifting apart."""

from pathlib import Path

from gateway.store.db import schema_sql

SCHEMA = Path(__file__).resolve().parent.parent / "schema.sql"


def test_schema_sql_matches_the_models():
    assert SCHEMA.read_text(encoding="utf-8") == schema_sql(), (
        "schema.sql is stale: run `.venv/bin/gateway schema > schema.sql`"
    )


def test_schema_creates_and_reopens(db):
    db.create_schema()  # idempotent on an existing database
    with db.read() as session:
        from sqlmodel import text

        assert session.exec(text("SELECT count(*) FROM ticket")).one()[0] == 0
