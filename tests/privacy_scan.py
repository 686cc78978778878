"""What an attacker holding a copy of the database sees, and what the gateway itself can read.

`stored_bytes` is the database as a thief would copy it: on SQLite the database file with its
WAL, on PostgreSQL every column of every row of every table, as text (what pg_dump writes).
`readable_text` is everything the gateway can decrypt, for scans that must also hold after
decryption (card numbers are never kept, even sealed).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import text
from sqlmodel import select

from gateway.store import tables


def stored_bytes(db) -> bytes:
    if db.is_sqlite:
        path = Path(db.url.split("///", 1)[1].split("?", 1)[0])
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    chunks = []
    with db.reader.connect() as connection:
        names = sa_inspect(connection).get_table_names()
        assert names, "no tables found in the test schema"
        for name in names:
            for row in connection.execute(text(f'SELECT * FROM "{name}"')):
                for value in row:
                    chunks.append(_as_bytes(value))
    return b"\n".join(chunks)


def _as_bytes(value) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def readable_text(db) -> str:
    """Every value of every row, decrypted by the gateway's own store."""
    parts = []
    with db.read() as session:
        for table in tables.ALL_TABLES:
            for row in session.exec(select(table)):
                for column in table.__table__.columns:
                    value = getattr(row, column.name)
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    parts.append(str(value))
    return "\n".join(parts)


def found(needles: list[str], haystack: bytes) -> list[str]:
    """The needles present in `haystack` as UTF-8, UTF-16 or in quoted-printable/base64-free
    plain form (ciphertext never contains them by chance)."""
    hits = []
    for needle in needles:
        forms = [needle.encode("utf-8"), needle.encode("utf-16-le")]
        if any(form in haystack for form in forms):
            hits.append(needle)
    return hits
