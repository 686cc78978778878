"""The yardstick: an aiosmtpd server that answers 250 to every message and stores nothing.

It runs like the gateway's listener (aiosmtpd Controller, bytes not decoded, same size limit)
so the ratio measures what durability and the gateway's own work cost.

    python -m benchmark.null_server --port 2600
"""

from __future__ import annotations

import argparse
import signal
import threading

from aiosmtpd.controller import Controller


class NullHandler:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 OK, forgotten"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-size", type=int, default=26_214_400)
    args = parser.parse_args()
    controller = Controller(
        NullHandler(),
        hostname=args.host,
        port=args.port,
        data_size_limit=args.max_size,
        enable_SMTPUTF8=True,
        decode_data=False,
    )
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    controller.start()
    print("ready", flush=True)
    stopped.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
