"""The listener's memory while it takes one large message: the peak resident size of a
`gateway serve --role listener` process before and after a message of many short lines.

aiosmtpd 1.4 kept a bytearray per line of a message; the listener reads DATA into one buffer
(`gateway/edges/smtp_data.py`). A message of empty lines is the worst case for the former.

    scripts/measure-memory [--mebibytes 24]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from benchmark.__main__ import GATEWAY, free_port, gateway, stop, wait_port, write_config


def peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc: Linux only")


def send_empty_lines(port: int, mebibytes: int) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        replies = sock.makefile("rb")

        def command(line: bytes) -> bytes:
            sock.sendall(line + b"\r\n")
            while (reply := replies.readline())[3:4] == b"-":
                pass
            return reply

        replies.readline()
        for line in (b"EHLO bench.example", b"MAIL FROM:<a@bench.example>",
                     b"RCPT TO:<support@support.example>", b"DATA"):  # fmt: skip
            command(line)
        sock.sendall(b"Subject: empty lines\r\n\r\n")
        for _ in range(mebibytes):
            sock.sendall(b"\r\n" * (1 << 19))
        return command(b".").decode().strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mebibytes", type=int, default=24, help="size of the message")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="gateway-memory-"))
    port = free_port()
    config = write_config(folder, port, "sqlite:///gateway.db")
    gateway(config, "init")
    command = [str(GATEWAY), "--config", str(config), "serve", "--role", "listener"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, server)
        before = peak_kib(server.pid)
        reply = send_empty_lines(port, args.mebibytes)
        after = peak_kib(server.pid)
    finally:
        stop(server)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"a {args.mebibytes} MiB message of empty lines: {reply}")
    print(
        f"listener peak resident size: {before / 1024:.0f} MiB before, {after / 1024:.0f} MiB after"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
