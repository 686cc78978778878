"""`gateway serve` as users run it: the listener in one process, the processor and the
delivery in child processes (a core each), and with `smtp.processes` more listener processes
sharing the port. Mail sent to it is confirmed, each once; a child that dies is started again
and nothing waits for it in vain; stopping the listener stops the children too."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import add_contact, free_port, key_file, mail

from gateway import cli
from gateway.store.db import Database
from gateway.store.vault import Vault

ALICE = "alice@customer.example"
SUPPORT = "support@support.example"


def write_config(folder: Path, db_url: str, processes: int = 1) -> tuple[Path, int]:
    port, web = free_port(), free_port()
    path = folder / "config.toml"
    path.write_text(
        f'[database]\nurl = "{db_url}"\n[smtp]\nport = {port}\nprocesses = {processes}\n'
        f'[web]\nport = {web}\nbase_url = "http://127.0.0.1:{web}"\n'
        '[outbound]\nmode = "maildir"\nmaildir = "outbox"\n'
        # one customer sends all the mail here: every one of it must be confirmed
        "[limits]\nauto_per_hour = 1000000\nauto_per_day = 1000000\n"
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


def gateway_children(pid: int, role: str = "processor") -> list[int]:
    """The children of `gateway serve` in one role (the processor's parser is not ours)."""
    found = []
    for child in children(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue  # gone already
        if b"--child" in command and command[command.index(b"--role") + 1] == role.encode():
            found.append(child)
    return found


def sockets_on(port: int, state: str) -> set[int]:
    """Inodes of the IPv4 TCP sockets on our side of `port` in a state ("0A" listening,
    "01" established), from /proc/net/tcp."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rpartition(":")[2], 16) == port and fields[3] == state:
            found.add(int(fields[9]))
    return found


def holders(pids: list[int], inodes: set[int]) -> set[int]:
    """Which of `pids` hold one of these sockets open."""
    found = set()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link.startswith("socket:[") and int(link[8:-1]) in inodes:
                found.add(pid)
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


def confirmed(folder: Path, subjects: list[str]) -> dict[str, int]:
    """How many confirmations name each subject (each file read once)."""
    new = folder / "outbox" / "new"
    texts = [p.read_bytes() for p in new.iterdir()] if new.exists() else []
    return {s: sum(s.encode() in text for text in texts) for s in subjects}


def send(port: int, subject: str) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(mail(sender=ALICE, to=SUPPORT, subject=subject))


def send_until_accepted(port: int, subject: str, tries: int = 20) -> None:
    """As a sending server does: a connection reset or a 4xx is tried again, the same message
    (a copy stored before the reset is known again, and is not a second ticket)."""
    message = mail(sender=ALICE, to=SUPPORT, subject=subject)
    for _ in range(tries):
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                client.send_message(message)
            return
        except (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException):
            time.sleep(0.2)
    raise AssertionError(f"{subject!r} was never accepted")


@pytest.fixture
def served(tmp_path, db_url, request):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the process tree from /proc")
    config, port = write_config(tmp_path, db_url, getattr(request, "param", 1))
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
        for child in every_child(server.pid):
            os.kill(child, signal.SIGKILL)


def every_child(pid: int) -> list[int]:
    return [c for role in ("processor", "delivery", "smtp") for c in gateway_children(pid, role)]


def test_serve_splits_listener_processor_and_delivery_and_confirms_mail(served, tmp_path):
    server, port = served
    child = wait_for(lambda: gateway_children(server.pid), "the processor child")[0]
    delivery = wait_for(lambda: gateway_children(server.pid, "delivery"), "the delivery")[0]
    send(port, "Site down")
    wait_for(lambda: confirmations(tmp_path, "Site down"), "the confirmation")

    os.kill(child, signal.SIGKILL)  # the processor dies: mail is still taken and kept
    send(port, "Still down")
    again = wait_for(
        lambda: [c for c in gateway_children(server.pid) if c != child], "a new processor"
    )[0]
    wait_for(lambda: confirmations(tmp_path, "Still down"), "the second confirmation")

    os.kill(delivery, signal.SIGKILL)  # the delivery dies: what is queued waits for the next
    send(port, "Down again")
    wait_for(
        lambda: [c for c in gateway_children(server.pid, "delivery") if c != delivery],
        "a new delivery",
    )
    wait_for(lambda: confirmations(tmp_path, "Down again"), "the third confirmation")

    children = every_child(server.pid)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    assert again in children
    for pid in children:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), "the children to stop")


def test_mail_a_command_queues_beside_serve_goes_out_at_once(served, tmp_path):
    """`gateway jobs run` in a process of its own cannot wake the delivery child; the child
    still finds what it queued in a moment, not at its sweep (30 s)."""
    server, port = served
    config = str(tmp_path / "config.toml")
    send(port, "Site down")  # the delivery child runs, and has sent what there was
    wait_for(lambda: confirmations(tmp_path, "Site down"), "the confirmation")
    assert cli.main(["--config", config, "staff", "add", "sam@support.example",
                     "--name", "Sam Agent"]) == 0  # fmt: skip
    assert cli.main(["--config", config, "jobs", "run", "weekly-report"]) == 0
    wait_for(lambda: confirmations(tmp_path, "Weekly report"), "the weekly report", timeout=10)


def test_mail_is_applied_while_a_stream_of_mail_keeps_coming_in(served, tmp_path):
    """The processor holds back while the listener takes a burst (SMTP first), but only for a
    moment at a time: mail sent while the stream goes on is confirmed while it goes on."""
    server, port = served
    send(port, "Site down")  # the children have started and are ready
    wait_for(lambda: confirmations(tmp_path, "Site down"), "the first confirmation")
    stop, sent = threading.Event(), []

    def stream(client_number: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            for n in range(2000):  # a cap: were nothing applied meanwhile, the stream ends
                if stop.is_set():
                    return
                subject = f"Stream {client_number}-{n}"
                client.send_message(mail(sender=ALICE, to=SUPPORT, subject=subject))
                sent.append(subject)

    senders = [threading.Thread(target=stream, args=(k,)) for k in range(4)]
    for sender in senders:
        sender.start()
    try:
        wait_for(lambda: confirmations(tmp_path, "Stream "), "a confirmation", timeout=20)
        still_sending = all(sender.is_alive() for sender in senders)
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    assert still_sending, "nothing was applied before the stream ended"
    wait_for(lambda: len(confirmations(tmp_path, "Stream ")) >= len(sent), "every confirmation",
             timeout=60)  # fmt: skip


@pytest.mark.parametrize("stop", ["ctrl-c", "sigterm-to-every-process"])
def test_a_stop_ends_every_process_without_restarting_one(tmp_path, db_url, stop):
    # Ctrl-C in a terminal reaches the foreground process group; a service manager may send
    # SIGTERM to every process of the service at once, so the processor child can end before
    # `gateway serve` begins to stop it: neither is taken for a child that died.
    if not sys.platform.startswith("linux"):
        pytest.skip("reads the process tree from /proc")
    config, port = write_config(tmp_path, db_url)
    assert cli.main(["--config", str(config), "init"]) == 0
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), "serve"],
        cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(
            lambda: listening(port) and gateway_children(server.pid, "delivery")
            and gateway_children(server.pid), "serve and its children",
        )  # fmt: skip
        if stop == "ctrl-c":
            os.killpg(server.pid, signal.SIGINT)
        else:
            for pid in (*every_child(server.pid), server.pid):
                os.kill(pid, signal.SIGTERM)
        _, errors = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert server.returncode == 0
    assert "starting it again" not in errors and "Traceback" not in errors, errors


def listeners(server: subprocess.Popen, port: int) -> set[int]:
    """The processes listening on the SMTP port: `gateway serve` and its smtp children."""
    return holders([server.pid, *gateway_children(server.pid, "smtp")], sockets_on(port, "0A"))


@pytest.mark.parametrize("served", [2], indirect=True)
def test_two_listener_processes_share_the_port_and_each_mail_is_confirmed_once(served, tmp_path):
    server, port = served
    extra = wait_for(lambda: gateway_children(server.pid, "smtp"), "the second listener")[0]
    wait_for(lambda: listeners(server, port) == {server.pid, extra}, "both on the port")
    # a second `gateway serve` started by mistake does not quietly take half the mail
    second = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(tmp_path / "config.toml"),
         "serve"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode != 0 and "Address already in use" in second.stderr

    # the kernel spreads connections over both: each holds some of 24 open sessions
    clients = [smtplib.SMTP("127.0.0.1", port, timeout=10) for _ in range(24)]
    for client in clients:
        client.ehlo()
    assert holders([server.pid, extra], sockets_on(port, "01")) == {server.pid, extra}
    subjects = [f"Spread {n:03d}" for n in range(len(clients))]
    for client, subject in zip(clients, subjects, strict=True):
        client.send_message(mail(sender=ALICE, to=SUPPORT, subject=subject))
        client.quit()

    # mail keeps flowing over many connections while the extra listener is killed and started
    sent: list[tuple[str, float]] = []
    done = threading.Event()

    def keep_sending(worker: int) -> None:
        for n in range(1000):
            if done.is_set():
                return
            send_until_accepted(port, f"Flow {worker}-{n:03d}")
            sent.append((f"Flow {worker}-{n:03d}", time.monotonic()))
            time.sleep(0.05)  # a steady flow, not a flood the processor takes long to clear

    senders = [threading.Thread(target=keep_sending, args=(w,)) for w in range(4)]
    for thread in senders:
        thread.start()
    time.sleep(0.3)
    os.kill(extra, signal.SIGKILL)
    killed = time.monotonic()
    again = wait_for(
        lambda: [c for c in gateway_children(server.pid, "smtp") if c != extra],
        "a new second listener",
    )[0]
    wait_for(lambda: listeners(server, port) == {server.pid, again}, "both on the port again")
    back = time.monotonic()
    time.sleep(0.3)
    done.set()
    for thread in senders:
        thread.join(timeout=60)
    assert any(killed < at < back for _, at in sent), "no mail was taken meanwhile"
    subjects += [subject for subject, _ in sent] + ["After"]
    send(port, "After")

    wait_for(lambda: min(confirmed(tmp_path, subjects).values()) > 0, "every confirmation")
    time.sleep(0.5)  # a second copy would follow the first closely
    assert confirmed(tmp_path, subjects) == dict.fromkeys(subjects, 1)

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0
    wait_for(lambda: not Path(f"/proc/{again}").exists(), "the extra listener to stop with it")
