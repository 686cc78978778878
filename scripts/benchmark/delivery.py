"""How fast the delivery job empties the outbox: to a smarthost over SMTP and into the Maildir.

Builds a throwaway gateway (SQLite in a temporary folder), queues N confirmations, then runs
the delivery job in this process until nothing is due, once to an aiosmtpd smarthost that keeps
nothing (its own process, so its CPU is not counted) and once into the local Maildir. Prints
mails a second and the delivery's CPU per mail.

    scripts/measure-delivery [--messages 1000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark.__main__ import SUPPORT, free_port, wait_port, write_config
from gateway import compose, outbox
from gateway.app import Gateway
from gateway.config import load


def _queue(gw: Gateway, count: int) -> None:
    draft = compose.Draft(
        from_name="Example Hosting",
        from_address=SUPPORT,
        to=(compose.Recipient("alice@customer.example"),),
        subject="[VB #1] We have your request",
        text="We have your request and will answer within the hour.\n" * 20,
        auto_submitted="auto-replied",
    )
    with gw.db.write() as session:
        for _ in range(count):
            outbox.enqueue(session, draft, kind="confirmation", ticket_id=None,
                           envelope_from=SUPPORT, now=gw.clock(),
                           message_domain="support.example")  # fmt: skip


def _deliver_all(gw: Gateway) -> tuple[int, float, float]:
    """(mails, seconds, CPU seconds) to deliver everything due."""
    sent, started, cpu = 0, time.perf_counter(), time.process_time()
    while attempted := gw.delivery.run_once():
        sent += attempted
    return sent, time.perf_counter() - started, time.process_time() - cpu


def _run(folder: Path, count: int, outbound: dict[str, str]) -> str:
    folder.mkdir()
    config = write_config(folder, free_port(), "sqlite:///gateway.db")
    environ = {f"GATEWAY_OUTBOUND_{key.upper()}": value for key, value in outbound.items()}
    gw = Gateway(load(config, environ=environ))
    try:
        gw.init()
        _queue(gw, count)
        sent, seconds, cpu = _deliver_all(gw)
    finally:
        gw.db.dispose()
    return f"{sent / seconds:8.0f} mails/s {1000 * cpu / sent:8.2f} ms CPU a mail"


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/measure-delivery", description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    port = free_port()
    smarthost = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
    )
    folder = Path(tempfile.mkdtemp(prefix="gateway-delivery-"))
    try:
        wait_port(port, smarthost)
        smtp = {"mode": "smtp", "host": "127.0.0.1", "port": str(port)}
        print(f"smarthost {_run(folder / 'smtp', args.messages, smtp)}")
        print(f"maildir   {_run(folder / 'maildir', args.messages, {'mode': 'maildir'})}")
    finally:
        smarthost.terminate()
        smarthost.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
