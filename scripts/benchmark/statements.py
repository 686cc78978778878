"""SQL statements and CPU time the processor spends per message, counted in-process.

Builds a throwaway gateway (SQLite in a temporary folder), imports contacts, opens a few
tickets, then processes one new request and one reply with the statements of each printed,
and a run of N corpus mails with the processor's CPU time per message (parsing included, in
this process, so the figure is the whole processing cost); then N more read in the parser's
child process, as `gateway serve` runs, with the CPU of the processor's process alone.

    scripts/measure-statements [--messages 500] [--verbose]
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, text

from benchmark import corpus
from benchmark.__main__ import SUPPORT, free_port, gateway, write_config
from gateway import intake
from gateway.app import Gateway
from gateway.config import load
from gateway.core import reading
from gateway.core.model import Envelope


def _feed(gw: Gateway, mails: list[corpus.Mail]) -> None:
    raws = [intake.RawMail(corpus.wire(m.data), Envelope(m.mail_from, tuple(m.rcpt_tos)))
            for m in mails]  # fmt: skip
    for start in range(0, len(raws), 32):
        intake.accept(gw.db, raws[start : start + 32], gw.clock(), "support.example")


def _drain(gw: Gateway) -> None:
    while gw.processor.run_once()[0]:
        pass
    while gw.delivery.run_once():
        pass


def _statements(gw: Gateway, mail: corpus.Mail) -> list[str]:
    seen: list[str] = []

    def record(conn, cursor, statement, *_):
        seen.append(re.sub(r"\s+", " ", statement))

    _feed(gw, [mail])
    event.listen(gw.db.writer, "before_cursor_execute", record)
    try:
        gw.processor.run_once()
    finally:
        event.remove(gw.db.writer, "before_cursor_execute", record)
    return seen


def seeded_gateway(folder: Path, rng: random.Random):
    """A gateway on SQLite in `folder` (never served) with 300 contacts and 100 tickets opened
    and confirmed, mail read in this process; (gateway, contacts, confirmations)."""
    config = write_config(folder, free_port(), "sqlite:///gateway.db")
    persons = corpus.people(300, rng)
    (folder / "contacts.csv").write_text(corpus.contacts_csv(persons))
    gateway(config, "init")
    gateway(config, "contacts", "import", str(folder / "contacts.csv"))
    gw = Gateway(load(config))
    gw.processor.reader = reading.read_mail  # in this process, so its cost is counted
    _feed(gw, [corpus.new_request(p, SUPPORT, rng) for p in persons[:100]])
    _drain(gw)
    with gw.db.read() as session:
        query = text("SELECT message_id FROM outbox WHERE kind = 'confirmation'")
        sent = set(session.execute(query).scalars())
    return gw, persons, corpus.read_confirmations(folder / "outbox", sent)


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/measure-statements", description=__doc__)
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--verbose", action="store_true", help="print each statement")
    args = parser.parse_args()
    rng = random.Random(1)
    folder = Path(tempfile.mkdtemp(prefix="gateway-statements-"))
    try:
        gw, persons, confirmations = seeded_gateway(folder, rng)
        by_email, first = {p.email: p for p in persons}, confirmations[0]
        for kind, mail in (
            ("new request", corpus.new_request(persons[150], SUPPORT, rng)),
            ("reply", corpus.reply(by_email[first.contact], first, SUPPORT, "token", rng)),
        ):
            found = _statements(gw, mail)
            print(f"{kind}: {len(found)} statements")
            for statement in found if args.verbose else ():
                print(f"    {statement[:150]}")
        mails = corpus.build(persons, confirmations, SUPPORT, args.messages, 0.4, rng)
        _feed(gw, mails)
        counted = [0]

        def count(*_):
            counted[0] += 1

        event.listen(gw.db.writer, "before_cursor_execute", count)
        started = time.process_time()
        _drain(gw)
        cpu = (time.process_time() - started) * 1000 / len(mails)
        event.remove(gw.db.writer, "before_cursor_execute", count)
        print(f"{len(mails)} corpus mails: {counted[0] / len(mails):.1f} statements and "
              f"{cpu:.1f} ms of CPU per message (parse, decide, store, render, deliver; "
              "one process, statement counting included)")  # fmt: skip
        # As `gateway serve` runs it: the mail read in the parser's child process, the
        # processor's own CPU alone (what end to end waits on), delivery left out.
        gw.processor.reader = gw.parser
        gw.parser.start()
        more = corpus.build(persons, confirmations, SUPPORT, args.messages, 0.4, rng)
        _feed(gw, more)
        started = time.process_time()
        while gw.processor.run_once()[0]:
            pass
        apart = (time.process_time() - started) * 1000 / len(more)
        gw.parser.close()
        print(f"{len(more)} more, read in the parser's process: {apart:.1f} ms of CPU per "
              "message in the processor's process (decide, store, render)")  # fmt: skip
        gw.db.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
