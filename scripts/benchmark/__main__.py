"""Benchmark the SMTP path against a do-nothing aiosmtpd server under the same load.

Sets up a throwaway gateway (config, SQLite database, contacts, Maildir) in a temporary folder,
runs `gateway serve` as its own process, seeds some tickets so replies have something to
thread to, replays a generated corpus with N concurrent clients (a separate process), and
waits until every ticket and confirmation is written. Then it replays the same corpus against
an aiosmtpd server that answers 250 and stores nothing, and prints both with their ratios.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmark import corpus, report
from benchmark.watch import Watcher

ROOT = Path(__file__).resolve().parent.parent.parent
GATEWAY = ROOT / ".venv" / "bin" / "gateway"
SUPPORT = "support@support.example"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--messages", type=int, default=3000, help="mails in the timed run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent SMTP clients")
    parser.add_argument("--contacts", type=int, default=300, help="contacts to import")
    parser.add_argument("--seed-tickets", type=int, default=200, help="tickets opened first")
    parser.add_argument("--replies", type=float, default=0.4, help="share of replies")
    parser.add_argument("--database-url", help="instead of SQLite in the temporary folder")
    parser.add_argument(
        "--roles",
        default="split",
        help="comma-separated `gateway serve --role` values, one process each "
        "(e.g. all, or listener,processor,delivery); default: split, as `gateway serve` runs",
    )
    parser.add_argument(
        "--smtp-processes", type=int, help="`smtp.processes` (default: the gateway's default)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for work")
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--skip-null", action="store_true", help="skip the do-nothing server")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port} after {timeout}s")


def write_config(
    folder: Path, port: int, database_url: str, smtp_processes: int | None = None
) -> Path:
    web = free_port()
    processes = "" if smtp_processes is None else f"processes = {smtp_processes}\n"
    path = folder / "config.toml"
    path.write_text(
        f"""[company]
name = "Example Hosting"
domain = "support.example"
support_address = "{SUPPORT}"
complaints_address = "complaints@support.example"
tag = "VB"

[database]
url = "{database_url}"

[smtp]
host = "127.0.0.1"
port = {port}
{processes}
[web]
port = {web}
base_url = "http://127.0.0.1:{web}"

[outbound]
mode = "maildir"
maildir = "outbox"

[limits]
# Each contact opens several tickets within a minute here; the per-address caps on automatic
# mail would withhold their confirmations, which is right in production but not measured here.
auto_per_hour = 1000000
auto_per_day = 1000000
"""
    )
    return path


def gateway(config: Path, *args: str) -> None:
    subprocess.run([str(GATEWAY), "--config", str(config), *args], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def write_corpus(mails: list[corpus.Mail], path: Path) -> Path:
    with open(path, "wb") as handle:
        pickle.dump([(m.mail_from, m.rcpt_tos, corpus.wire(m.data)) for m in mails], handle)
    return path


def replay(port: int, clients: int, path: Path) -> dict:
    """Replay a written corpus with the load generator process; returns its results."""
    command = [sys.executable, "-m", "benchmark.load", "--port", str(port),
               "--clients", str(clients), "--corpus", str(path)]  # fmt: skip
    return report.load_results(subprocess.Popen(command, stdout=subprocess.PIPE))


def start_gateway(config: Path, roles: str, folder: Path) -> list[subprocess.Popen]:
    """One `gateway serve` process per role; the first one must be the one that listens."""
    processes = []
    for role in roles.split(","):
        log = open(folder / f"gateway-{role}.log", "ab")  # noqa: SIM115 - the child keeps it
        command = [str(GATEWAY), "--config", str(config), "serve", "--role", role]
        processes.append(subprocess.Popen(command, stdout=log, stderr=log))
    return processes


def cpu_seconds(pid: int) -> float:
    """User and system time so far of a process and its children (Linux; the parser runs in a
    child), a figure that noise from other processes barely moves."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    family, ticks = {pid}, 0
    for child, (parent, _) in sorted(stats.items()):  # children have higher pids, mostly
        if parent in family:
            family.add(child)
    ticks = sum(stats[p][1] for p in family if p in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def processor_cpu_seconds() -> float:
    """User and system time so far of the processes that apply mail (`--role processor` or
    `all`), without their parser child: one interpreter lock, the stage end to end waits on."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        role = command[command.index(b"--role") + 1] if b"--role" in command else b""
        if b"serve" in command and role in (b"processor", b"all"):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def listener_cpu_seconds(pid: int) -> float:
    """User and system time so far of the SMTP listener processes: `gateway serve` itself (not
    its processor child) and its `--role smtp` children (`smtp.processes`)."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(entry.name) == pid or (int(fields[1]) == pid and b"smtp" in command):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def run_gateway(args, folder: Path, rng: random.Random) -> tuple[dict, dict, list]:
    port = free_port()
    database_url = args.database_url or "sqlite:///gateway.db"
    config = write_config(folder, port, database_url, args.smtp_processes)
    persons = corpus.people(args.contacts, rng)
    (folder / "contacts.csv").write_text(corpus.contacts_csv(persons))
    gateway(config, "init")
    gateway(config, "contacts", "import", str(folder / "contacts.csv"))
    servers = start_gateway(config, args.roles, folder)
    watcher = Watcher(config, lambda: all(s.poll() is None for s in servers))
    try:
        wait_port(port, servers[0])
        seeded = [corpus.new_request(p, SUPPORT, rng) for p in persons[: args.seed_tickets]]
        replay(port, args.clients, write_corpus(seeded, folder / "seed.pickle"))
        if not watcher.wait(len(seeded), len(seeded), args.timeout):
            raise SystemExit(f"the seed tickets were not all confirmed; see the logs in {folder}")
        confirmations = corpus.read_confirmations(folder / "outbox", watcher.confirmation_ids())
        mails = corpus.build(persons, confirmations, SUPPORT, args.messages, args.replies, rng)
        new = sum(1 for m in mails if m.kind == "new")
        baseline = watcher.counts()
        cpu_before = sum(cpu_seconds(server.pid) for server in servers)
        listening_before = listener_cpu_seconds(servers[0].pid)
        applying_before = processor_cpu_seconds()
        watcher.start(baseline["inbound"] + len(mails), baseline["mails"] + new)
        results = replay(port, args.clients, write_corpus(mails, folder / "timed.pickle"))
        listening = listener_cpu_seconds(servers[0].pid) - listening_before
        end_to_end = watcher.finish(results["first_send"], args.timeout)
        cpu = sum(cpu_seconds(server.pid) for server in servers) - cpu_before
        applying = processor_cpu_seconds() - applying_before
        end_to_end["cpu_ms"] = cpu * 1000 / len(mails)
        end_to_end["listener_cpu_ms"] = listening * 1000 / len(mails)
        end_to_end["processor_cpu_ms"] = applying * 1000 / len(mails)
        end_to_end["sanity"] = watcher.sanity()
    finally:
        for server in servers:
            stop(server)
        watcher.close()
    return results, end_to_end, mails


def run_null(args, folder: Path) -> dict:
    port = free_port()
    command = [sys.executable, "-m", "benchmark.null_server", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        wait_port(port, server)
        return replay(port, args.clients, folder / "timed.pickle")
    finally:
        stop(server)


def describe(mails: list[corpus.Mail]) -> str:
    kinds = Counter(m.kind for m in mails)
    shapes = Counter(m.shape for m in mails)
    charsets = Counter(m.charset for m in mails)
    size = sum(len(m.data) for m in mails) / max(1, len(mails))
    return (f"{len(mails)} mails ({kinds['new']} new requests, {kinds['reply']} replies; "
            f"{', '.join(f'{k} {v}' for k, v in shapes.most_common())}; "
            f"{', '.join(f'{k} {v}' for k, v in charsets.most_common())}; "
            f"mean {size / 1024:.1f} KiB)")  # fmt: skip


def main() -> int:
    args = _args()
    rng = random.Random(args.random_seed)
    folder = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    finished = False
    try:
        ours, end_to_end, mails = run_gateway(args, folder, rng)
        null = None if args.skip_null else run_null(args, folder)
        print(f"corpus: {describe(mails)}, {args.clients} clients")
        print(report.table(ours, null, end_to_end, len(mails)))
        finished = end_to_end["done"]
    finally:
        if args.keep or not finished:  # the logs tell what went wrong
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
