"""Instructions the processor's process executes per mail, counted by valgrind's callgrind.

Wall-clock and CPU-time figures move by 15-20% between runs on a shared machine, more than
most changes to the processor; an instruction count moves by well under 1%. This builds a
throwaway gateway (SQLite in a temporary folder, 300 contacts, 100 tickets to reply to), reads
N corpus mails first (as the parser's child process would), then counts only what the
processor's process does with them: deciding, storing, rendering and delivering into the
Maildir, in transactions as long as `gateway serve` makes them.

    scripts/measure-instructions [--messages 200]

Run under valgrind it is about fifty times slower than natively; `--inner` is the part that
runs under it.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmark import corpus
from benchmark.__main__ import SUPPORT
from benchmark.statements import _drain, _feed, seeded_gateway
from gateway import process
from gateway.core import reading
from gateway.store import spool

# valgrind runs the processor about fifty times slower: its transactions are given fifty
# times as long, so that each applies as many mails as natively (50 ms, `process.py`).
SLOWDOWN = 50


def counted(args: argparse.Namespace) -> int:
    """The whole run under callgrind, collecting only while the processor works."""
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="gateway-instructions-") as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no",
            f"--callgrind-out-file={out}", sys.executable, "-m", "benchmark.instructions",
            "--inner", "--messages", str(args.messages),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            sys.stderr.write(done.stderr[-3000:])
            raise SystemExit("the counted run failed")
    per_mail = int(found[1]) / args.messages / 1e6
    print(f"{args.messages} corpus mails: {per_mail:.3f} million instructions per message in "
          "the processor's process (decide, store, render, deliver; read beforehand)")  # fmt: skip
    return 0


def inner(messages: int) -> int:
    process.TRANSACTION_SECONDS *= SLOWDOWN
    rng = random.Random(1)
    folder = Path(tempfile.mkdtemp(prefix="gateway-instructions-"))
    try:
        gw, persons, confirmations = seeded_gateway(folder, rng)
        _feed(gw, corpus.build(persons, confirmations, SUPPORT, messages, 0.4, rng))
        with gw.db.read() as session:  # read as the parser's process would, not counted
            readings = {
                row.raw: reading.read_mail(row.raw, row.message_id)
                for row in spool.pending_inbound(session, messages)
            }
        gw.processor.reader = lambda raw, _message_id: readings[raw]
        _collect("on")
        _drain(gw)
        _collect("off")
        gw.db.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


def _collect(state: str) -> None:
    subprocess.run(["callgrind_control", "--instr=" + state, str(os.getpid())], check=True,
                   capture_output=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/measure-instructions", description=__doc__)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    return inner(args.messages) if args.inner else counted(args)


if __name__ == "__main__":
    raise SystemExit(main())
