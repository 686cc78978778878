"""Watch the gateway's database from outside to see when all work is written.

End to end is over when every mail sent is an inbound row that is no longer pending and every
expected confirmation is marked sent (the delivery job marks it once its file is in the
Maildir; other mail, such as notices, is not counted).
"""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

from sqlalchemy import create_engine, text

POLL_SECONDS = 0.02


class Watcher:
    def __init__(self, config: Path, alive=lambda: True):
        url = tomllib.loads(config.read_text())["database"]["url"]
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/"):
            url = prefix + str(config.parent / url[len(prefix) :])
        self.engine = create_engine(url)
        self.targets = (0, 0)
        self.alive = alive  # False once a gateway process died: stop waiting

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            inbound, pending = connection.execute(
                text(
                    "SELECT count(*), sum(CASE WHEN status = 'pending' THEN 1 ELSE 0 END) "
                    "FROM inbound"
                )  # fmt: skip
            ).one()
            mails = connection.execute(
                text("SELECT count(*) FROM outbox WHERE kind = 'confirmation' AND status = 'sent'")
            ).scalar()
        return {"inbound": inbound, "pending": pending or 0, "mails": mails}

    def confirmation_ids(self) -> set[str]:
        """Message-IDs of the confirmations written (other mail, such as notices, is not)."""
        query = text("SELECT message_id FROM outbox WHERE kind = 'confirmation'")
        with self.engine.connect() as connection:
            return set(connection.execute(query).scalars())

    def _done(self, inbound: int, mails: int) -> bool:
        now = self.counts()
        return now["inbound"] >= inbound and not now["pending"] and now["mails"] >= mails

    def wait(self, inbound: int, mails: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            if self._done(inbound, mails):
                return True
            time.sleep(POLL_SECONDS)
        return False

    def start(self, inbound: int, mails: int) -> None:
        self.targets = (inbound, mails)

    def finish(self, first_send: float, timeout: float) -> dict:
        done = self.wait(*self.targets, timeout)
        return {"done": done, "seconds": time.time() - first_send}

    def sanity(self) -> dict[str, object]:
        """What was written, to check the run did what it claims (nothing failed or held)."""
        queries = {
            "tickets": "SELECT count(*) FROM ticket",
            "messages": "SELECT count(*) FROM message",
            "failed": "SELECT count(*) FROM inbound WHERE status = 'failed'",
            "held": "SELECT count(*) FROM quarantine",
            "outbox unsent": "SELECT count(*) FROM outbox WHERE status != 'sent'",
        }
        with self.engine.connect() as connection:
            found: dict[str, object] = {
                name: connection.execute(text(sql)).scalar() for name, sql in queries.items()
            }
            if self.engine.dialect.name == "sqlite":
                found["journal"] = connection.execute(text("PRAGMA journal_mode")).scalar()
        return found

    def close(self) -> None:
        self.engine.dispose()
