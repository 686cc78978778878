"""Accept raw mail durably: one `inbound` row per distinct message, committed before any ack.

Listeners (SMTP, IMAP, the replay command) call `accept`; nothing here parses beyond the header
block. Concurrent SMTP sessions are committed together by `GroupCommitter`, so 32 clients cost
one fsync per batch instead of one each, and each still gets its 250 only after its commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32

from gateway.core.model import Envelope
from gateway.core.parse import message_ids
from gateway.store import spool
from gateway.store.db import Database, StoreUnavailable

Clock = Callable[[], datetime]
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    inbound_id: int
    duplicate: bool


@dataclass(frozen=True)
class RawMail:
    raw: bytes
    envelope: Envelope


# The header fields the digest covers, in this order: changing either would make a redelivery
# of mail stored before the change look new.
_DIGESTED = ("from", "to", "cc", "subject", "date", "message-id", "in-reply-to")
_DIGESTED_NAMES = tuple(name.encode() for name in _DIGESTED)
# A header block the standard library's parser reads exactly as written: ASCII, every line a
# field "name:" (RFC 5322 2.2) or a folded continuation of one, each ended by CRLF or LF.
_PLAIN_BLOCK = re.compile(
    rb"(?:[\x21-\x39\x3b-\x7e]++:[^\r\n]*+(?:\r?\n[ \t][^\r\n]*+)*+(?:\r?\n|\Z))*+"
)
_DIGESTED_FIELD = re.compile(
    rb"^(%s):([^\r\n]*+(?:\r?\n[ \t][^\r\n]*+)*+)" % b"|".join(map(re.escape, _DIGESTED_NAMES)),
    re.IGNORECASE | re.MULTILINE,
)


def identify(raw: bytes, domain: str) -> tuple[str, bool, str]:
    """(Message-ID, whether we generated it, content digest) from the header block.

    The digest covers the body and the author's headers but not trace headers that each
    delivery adds, so a redelivery through another path is still recognised.
    """
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    values = _plain_values(head)
    if values is None:
        values = _parsed_values(head)
    digest = hashlib.sha256()
    for name, value in zip(_DIGESTED, values, strict=True):
        digest.update(f"{name}:{value}\n".encode("utf-8", "replace"))
    digest.update(body.replace(b"\r\n", b"\n"))
    hexdigest = digest.hexdigest()
    found = message_ids(values[_DIGESTED.index("message-id")])
    if found:
        return found[0], False, hexdigest
    return f"<{hexdigest[:32]}@generated.{domain}>", True, hexdigest


def _plain_values(head: bytes) -> list[str] | None:
    """The digested fields' values read straight from a plain header block (nearly all mail),
    as `_parsed_values` would read them at a quarter of its cost; None for any other block."""
    if not head.isascii() or _PLAIN_BLOCK.fullmatch(head) is None:
        return None
    found: dict[bytes, bytes] = {}
    for field in _DIGESTED_FIELD.finditer(head):
        found.setdefault(field[1].lower(), field[2])  # the first one, as Message.get
    # compat32 drops the blanks after the colon (and the last line break, left out above).
    return [found.get(name, b"").lstrip(b" \t").decode() for name in _DIGESTED_NAMES]


def _parsed_values(head: bytes) -> list[str]:
    """The digested fields' values as the standard library reads any header block: 8-bit
    bytes, bare CRs, stray lines, a Unix "From " line. Mail stored before the quick reading
    above was digested this way, and such mail still is."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")
    return [str(headers.get(name, "")) for name in _DIGESTED]


def accept(db: Database, mails: list[RawMail], now: datetime, domain: str) -> list[Accepted]:
    """Store each mail unless the same message is already stored; one commit for all."""
    rows = [(mail, *identify(mail.raw, domain)) for mail in mails]
    with db.write_rows(urgent=True) as conn:  # SMTP sessions wait on this commit for their 250
        known = spool.known_inbound(
            conn, [(message_id, digest) for _, message_id, _, digest in rows]
        )
        fresh: dict[tuple[str, str], dict] = {}
        for mail, message_id, generated, digest in rows:
            if (message_id, digest) not in known:
                fresh.setdefault(
                    (message_id, digest), _spool_row(mail, message_id, generated, digest, now)
                )
        new_ids = dict(
            zip(fresh, spool.add_inbound(conn, db.vault, list(fresh.values())), strict=True)
        )
    results: list[Accepted] = []
    for _, message_id, _, digest in rows:
        key = (message_id, digest)
        if key in known:
            results.append(Accepted(known[key], duplicate=True))
        else:  # the first copy within the batch is the new row, any later one a duplicate
            results.append(Accepted(new_ids[key], duplicate=key not in fresh))
            fresh.pop(key, None)
    return results


def _spool_row(mail: RawMail, message_id: str, generated: bool, digest: str, now: datetime) -> dict:
    return {
        "received_at": now,
        "source": mail.envelope.source,
        "peer": mail.envelope.peer,
        "mail_from": mail.envelope.mail_from,
        "rcpt_tos": json.dumps(list(mail.envelope.rcpt_tos)),
        "message_id": message_id,
        "message_id_generated": generated,
        "content_digest": digest,
        "raw": mail.raw,
    }


def _taken(future: Future) -> Future:
    """The future, now running, so that a waiter going away (an SMTP client hanging up) can no
    longer cancel it: setting a cancelled future's result raises, and once did so in the
    writer, ending its thread. For one cancelled already, a stand-in: the mail is stored all
    the same, as it would be had the waiter left a moment later."""
    if future.set_running_or_notify_cancel():
        return future
    stand_in: Future = Future()
    stand_in.set_running_or_notify_cancel()
    return stand_in


class GroupCommitter:
    """A writer thread that commits whatever mail is waiting in one transaction."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        domain: str,
        on_commit: Callable[[], None],
        max_batch: int = 64,
    ):
        self._db, self._clock, self._domain = db, clock, domain
        self._on_commit, self._max_batch = on_commit, max_batch
        self._queue: queue.Queue[tuple[RawMail, Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def submit(self, mail: RawMail) -> Future:
        future: Future = Future()
        self._queue.put((mail, future))
        return future

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            self._commit([(mail, _taken(future)) for mail, future in batch])

    def _commit(self, batch: list[tuple[RawMail, Future]]) -> None:
        try:
            results = accept(self._db, [mail for mail, _ in batch], self._clock(), self._domain)
        except StoreUnavailable as error:  # every waiting session must hear about it (451)
            for _, future in batch:
                future.set_exception(error)
            return
        except Exception as error:
            if len(batch) == 1:
                batch[0][1].set_exception(error)
                return
            # One mail the database refuses (or a row another listener stored a moment ago)
            # must not cost its neighbours a 451: each is tried alone, and only it is refused.
            log.warning("a batch of %d could not be stored (%s); storing each alone",
                        len(batch), error)  # fmt: skip
            for item in batch:
                self._commit([item])
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
        self._on_commit()
