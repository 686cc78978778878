"""The load generator: N concurrent asyncio SMTP clients replaying a corpus, in its own process.

Each client keeps its connection and sends mail after mail; the time from the last byte of
DATA to the final reply is recorded per message. Results go to stdout as one JSON document.

    python -m benchmark.load --port 2525 --clients 32 --corpus corpus.pickle
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pickle
import sys
import time


class SmtpError(Exception):
    pass


async def _reply(reader: asyncio.StreamReader) -> tuple[int, str]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise SmtpError("connection closed")
        lines.append(line.decode("utf-8", "replace").rstrip())
        if line[3:4] != b"-":
            return int(line[:3]), " / ".join(lines)


async def _command(reader, writer, line: str, expect: int) -> None:
    writer.write(line.encode() + b"\r\n")
    code, text = await _reply(reader)
    if code != expect:
        raise SmtpError(f"{line.split(':')[0]}: {text}")


async def _connect(host: str, port: int):
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    await _reply(reader)
    await _command(reader, writer, "EHLO bench.client.example", 250)
    return reader, writer


async def _client(host, port, queue: asyncio.Queue, out: dict) -> None:
    reader = writer = None
    while not queue.empty():
        mail_from, rcpts, payload = queue.get_nowait()
        try:
            if writer is None:
                reader, writer = await _connect(host, port)
            if out["first_send"] is None:
                out["first_send"] = time.time()
            await _command(reader, writer, f"MAIL FROM:<{mail_from}>", 250)
            for rcpt in rcpts:
                await _command(reader, writer, f"RCPT TO:<{rcpt}>", 250)
            await _command(reader, writer, "DATA", 354)
            writer.write(payload)
            await writer.drain()
            started = time.perf_counter()
            code, text = await _reply(reader)
            out["latencies"].append(time.perf_counter() - started)
            out["codes"][str(code)] = out["codes"].get(str(code), 0) + 1
            out["last_reply"] = time.time()
        except (SmtpError, OSError) as error:
            out["errors"].append(str(error))
            if writer is not None:
                writer.close()
            reader = writer = None
    if writer is not None:
        writer.write(b"QUIT\r\n")
        await writer.drain()
        writer.close()


async def run(host: str, port: int, clients: int, corpus: list) -> dict:
    queue: asyncio.Queue = asyncio.Queue()
    for item in corpus:
        queue.put_nowait(item)
    out = {"first_send": None, "last_reply": None, "latencies": [], "codes": {}, "errors": []}
    await asyncio.gather(*(_client(host, port, queue, out) for _ in range(clients)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--corpus", required=True, help="pickled [(mail_from, rcpts, payload)]")
    args = parser.parse_args()
    with open(args.corpus, "rb") as handle:
        corpus = pickle.load(handle)
    out = asyncio.run(run(args.host, args.port, args.clients, corpus))
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
