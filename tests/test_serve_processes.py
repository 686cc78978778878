"""`gateway serve` as users run it: the listener in one process, the processor in a child
process (one core each). Mail sent to it is confirmed; a processor that dies is started again
and nothing waits for it in vain; stopping the listener stops the child too."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import add_contact, free_port, key_file, mail

from gateway import cli
from gateway.store.db import Database
from gateway.store.vault import Vault

ALICE = "alice@customer.example"
SUPPORT = "support@support.example"


def write_config(folder: Path, db_url: str) -> tuple[Path, int]:
    port, web = free_port(), free_port()
    path = folder / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[smtp]\nport = {port}\n'
        f'[web]\nport = {web}\nbase_url = "http://127.0.0.1:{web}"\n'
        '[outbound]\nmode = "maildir"\nmaildir = "outbox"\n'
    )
    return path, port


def wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what}: not seen within {timeout} s")


def children(pid: int) -> list[int]:
    """Children of every thread of `pid` (a child started by a thread is listed under it)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue  # the thread ended
    return found


def gateway_children(pid: int) -> list[int]:
    """The processor child (the parser it runs in turn is its child, not ours)."""
    found = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone already
        if b"--woken-by-stdin" in command:
            found.append(child)
    return found


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def confirmations(folder: Path, subject: str) -> list[Path]:
    new = folder / "outbox" / "new"
    if not new.exists():
        return []
    return [p for p in new.iterdir() if subject.encode() in p.read_bytes()]


def send(port: int, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(mail(sender=ALICE, to=SUPPORT, subject=subject))


@pytest.fixture
def served(tmp_path, db_url):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the process tree from /proc")
    config, port = write_config(tmp_path, db_url)
    assert cli.main(["--config", str(config), "init"]) == 0
    db = Database(db_url, vault=Vault(key_file(tmp_path)))
    add_contact(db, ALICE)
    db.dispose()
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), "serve"],
        cwd=tmp_path,
        env={**os.environ, "GATEWAY_LOG_LEVEL": "WARNING"},
    )
    try:
        wait_for(lambda: listening(port) or server.poll() is not None, "the listener")
        assert server.poll() is None, "gateway serve exited at start"
        yield server, port
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for child in gateway_children(server.pid):
            os.kill(child, signal.SIGKILL)


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def test_serve_splits_listener_and_processor_and_confirms_mail(served, tmp_path):
    server, port = served
    child = wait_for(lambda: gateway_children(server.pid), "the processor child")[0]
    send(port, "Site down")
    wait_for(lambda: confirmations(tmp_path, "Site down"), "the confirmation")
    # processing yields the CPU to the listener, whose clients wait for their 250
    assert niceness(child) > niceness(server.pid) or niceness(server.pid) == 19  # the floor

    os.kill(child, signal.SIGKILL)  # the processor dies: mail is still taken and kept
    send(port, "Still down")
    again = wait_for(
        lambda: [c for c in gateway_children(server.pid) if c != child], "a new processor"
    )[0]
    wait_for(lambda: confirmations(tmp_path, "Still down"), "the second confirmation")

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    wait_for(lambda: not Path(f"/proc/{again}").exists(), "the child to stop with it")
