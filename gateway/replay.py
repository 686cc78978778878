"""`gateway replay PATH`: feed an .eml file, a Maildir or an mbox through the normal intake.

For migrations and tests: each message is stored exactly as SMTP would store it (duplicates
are recognised the same way), then processed by the running gateway or, with `--process`,
right here.
"""

from __future__ import annotations

import mailbox
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path

from gateway.core.model import Envelope
from gateway.intake import RawMail, accept
from gateway.store.db import Database

BATCH = 200


def messages(path: Path) -> Iterator[bytes]:
    """Raw bytes of every message at `path`: one .eml file, a Maildir or an mbox."""
    if path.is_dir():
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys()):
            yield box.get_bytes(key)
        return
    with open(path, "rb") as handle:
        first = handle.readline()
    if first.startswith(b"From "):
        box = mailbox.mbox(path, factory=None, create=False)
        for key in box.iterkeys():
            yield box.get_bytes(key)
        return
    yield path.read_bytes()


def envelope_sender(raw: bytes) -> str:
    headers = BytesHeaderParser().parsebytes(raw.split(b"\n\n", 1)[0] + b"\n\n")
    for name in ("return-path", "from"):
        address = parseaddr(str(headers.get(name, "") or ""))[1]
        if address:
            return address
    return ""


def replay(
    db: Database,
    path: Path,
    recipient: str,
    domain: str,
    clock: Callable[[], datetime],
    progress=None,
) -> tuple[int, int]:
    """Store every message; returns (stored, duplicates). Progress goes to stderr."""
    progress = progress or sys.stderr
    stored = duplicates = seen = 0
    batch: list[RawMail] = []

    def flush() -> None:
        nonlocal stored, duplicates
        for result in accept(db, batch, clock(), domain):
            duplicates += result.duplicate
            stored += not result.duplicate
        batch.clear()
        progress.write(f"\rreplayed {seen} messages ({duplicates} already known)")
        progress.flush()

    for raw in messages(path):
        seen += 1
        envelope = Envelope(envelope_sender(raw), (recipient,), "replay", "pipe")
        batch.append(RawMail(raw, envelope))
        if len(batch) >= BATCH:
            flush()
    flush()
    progress.write("\n")
    return stored, duplicates
