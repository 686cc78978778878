"""Inbound by IMAP against a real, private Dovecot: mail becomes tickets, IDLE wakes the
poller, crashes and UIDVALIDITY changes lose and duplicate nothing, the poller survives a
server restart, and a large folder drains."""

from __future__ import annotations

import logging
import shlex
import ssl
import sys
import threading
import time
import traceback
from email import message_from_bytes, policy

import pytest
from conftest import add_contact, mail, make_config
from dovecot import BINARY as dovecot_binary
from dovecot import PASSWORD, TOKEN, USER, Dovecot, free_port, trusting
from sqlmodel import func, select
from test_cli import cli_config, run_cli

from gateway import config as config_module
from gateway import intake
from gateway.app import Gateway
from gateway.config import ImapAccountConfig
from gateway.edges import imap_in, imap_mailbox
from gateway.store import health, repo
from gateway.store.db import Database
from gateway.store.tables import Inbound, Ticket

pytestmark = pytest.mark.skipif(
    dovecot_binary is None, reason="dovecot not installed (./scripts/services installs it)"
)
DOMAINS = ("support.example",)


class Crash(Exception):
    """Stands for the process dying at a step."""


@pytest.fixture
def dovecot():
    server = Dovecot()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def desk(tmp_path, db_url, clock):
    """A gateway that is built but not started: its database and processor, run by hand."""
    gateway = Gateway(make_config(tmp_path, db_url), clock=clock)
    gateway.init()
    yield gateway
    gateway.db.dispose()


def storing(gateway: Gateway):
    def store(mails):
        return intake.accept(gateway.db, mails, gateway.clock(), "support.example")

    return store


def poller(server: Dovecot, store, login=None, **options) -> imap_in.Poller:
    mailbox = imap_mailbox.Mailbox(
        "127.0.0.1",
        options.pop("port", server.port),
        options.pop("security", "none"),
        login or imap_mailbox.Login(USER, PASSWORD),
        folders=options.pop("folders", ("INBOX",)),
        address=USER,
    )
    options.setdefault("poll_seconds", 3600)
    return imap_in.Poller(mailbox, store, lambda: None, DOMAINS, **options)


def append(server: Dovecot, *messages, folder="INBOX") -> None:
    with server.client() as client:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        client.multiappend(folder, [m if isinstance(m, bytes) else m.as_bytes() for m in messages])


def folder(server: Dovecot, name: str) -> list[tuple[str, tuple]]:
    """(subject, flags) of each message in the folder, read without marking anything seen."""
    header = b"BODY[HEADER.FIELDS (SUBJECT)]"
    with server.client() as client:
        if not client.folder_exists(name):
            return []
        client.select_folder(name, readonly=True)
        uids = client.search()
        found = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]", "FLAGS"]) if uids else {}
    return [(subject_of(data[header]), data[b"FLAGS"]) for _, data in sorted(found.items())]


def subject_of(raw: bytes) -> str:
    return message_from_bytes(raw, policy=policy.default)["Subject"]


def subjects(server: Dovecot, name: str) -> list[str]:
    return sorted(subject for subject, _ in folder(server, name))


def inbound_subjects(db: Database) -> list[str]:
    with db.read() as session:
        raws = [row.raw for row in session.exec(select(Inbound))]
    return sorted(subject_of(raw) for raw in raws)


def tickets(db: Database) -> list[Ticket]:
    with db.read() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def process_all(gateway: Gateway) -> None:
    while gateway.processor.run_once()[0]:
        pass


def wait_for(predicate, timeout=15.0, explain=None) -> None:
    """Poll `predicate`; when it stays false, fail with what `explain` and every thread show."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    seen = explain() if explain is not None else ""
    raise AssertionError(f"condition not met in time\n{seen}\n{thread_stacks()}")


def thread_stacks() -> str:
    """Where each thread of this process is, so a stall names the call it is stuck in."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    return "\n".join(
        f"--- thread {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame))
        for ident, frame in sys._current_frames().items()
    )


def gateway_state(gw, server: Dovecot) -> str:
    """The inbound rows, the mailbox folders and Dovecot's log, as a failing test reports."""
    with gw.db.read() as session:
        rows = [(r.id, r.status, r.error, subject_of(r.raw)) for r in session.exec(select(Inbound))]
    return (
        f"inbound rows: {rows}\ntickets: {[t.subject for t in tickets(gw.db)]}\n"
        f"INBOX: {folder(server, 'INBOX')}\nProcessed: {folder(server, 'Processed')}\n"
        f"sessions in IDLE: {server.idling()}\ndovecot log:\n{server.log()[-4000:]}"
    )


# Through the whole gateway -------------------------------------------------------------


@pytest.fixture
def imap_gateway(dovecot, start_gateway, monkeypatch):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
    account = ImapAccountConfig(
        host="127.0.0.1",
        port=dovecot.port,
        security="none",
        username=USER,
        password_env="TEST_IMAP_PASSWORD",
    )
    return start_gateway(imap={"enabled": True, "poll_seconds": 3600, "accounts": (account,)})


def test_mail_in_the_mailbox_becomes_tickets_and_moves_unread(imap_gateway, dovecot):
    gw = imap_gateway
    add_contact(gw.db, "alice@customer.example", name="Alice")
    add_contact(gw.db, "bob@customer.example", name="Bob")
    append(
        dovecot,
        mail(subject="Site down"),
        mail(
            sender="bob@customer.example",
            subject="Invoice wrong",
            Return_Path="<bob@customer.example>",  # as a delivering server writes it
        ),
    )
    wait_for(lambda: len(tickets(gw.db)) == 2, explain=lambda: gateway_state(gw, dovecot))
    gw.settle()

    assert sorted(t.subject for t in tickets(gw.db)) == ["Invoice wrong", "Site down"]
    assert gw.sink.to("alice@customer.example") and gw.sink.to("bob@customer.example")
    wait_for(
        lambda: len(folder(dovecot, "Processed")) == 2, explain=lambda: gateway_state(gw, dovecot)
    )
    assert folder(dovecot, "INBOX") == []
    assert all(b"\\Seen" not in flags for _, flags in folder(dovecot, "Processed"))


def test_reply_to_the_token_address_joins_its_ticket(imap_gateway, dovecot):
    """The envelope recipient comes from the headers, so support+<token>@ still threads."""
    gw = imap_gateway
    add_contact(gw.db, "alice@customer.example")
    append(dovecot, mail(subject="Site down"))
    wait_for(lambda: len(tickets(gw.db)) == 1, explain=lambda: gateway_state(gw, dovecot))
    gw.settle()
    [confirmation] = gw.sink.to("alice@customer.example")
    token_address = confirmation.message["Reply-To"]
    assert token_address.startswith("support+")

    append(dovecot, mail(to=token_address, subject="unrelated words", body="Still down."))
    [ticket] = tickets(gw.db)

    def messages() -> int:
        with gw.db.read() as session:
            return len(repo.ticket_messages(session, ticket.id))

    wait_for(lambda: messages() == 2, explain=lambda: gateway_state(gw, dovecot))
    assert len(tickets(gw.db)) == 1


def test_idle_picks_up_new_mail_without_waiting_for_a_poll(imap_gateway, dovecot):
    gw = imap_gateway  # polls only hourly
    add_contact(gw.db, "alice@customer.example")
    wait_for(lambda: dovecot.idling() == 1, explain=lambda: gateway_state(gw, dovecot))
    append(dovecot, mail(subject="Arrived while idle"))
    wait_for(
        lambda: [t.subject for t in tickets(gw.db)] == ["Arrived while idle"],
        timeout=10,
        explain=lambda: gateway_state(gw, dovecot),
    )


# Crashes, UIDVALIDITY, store failures ---------------------------------------------------


@pytest.mark.parametrize("step", ["fetched", "stored", "moving"])
def test_a_crash_at_any_step_loses_nothing_and_records_nothing_twice(dovecot, desk, step):
    for sender in ("alice", "bob", "carol"):
        add_contact(desk.db, f"{sender}@customer.example")
    append(
        dovecot,
        *(mail(sender=f"{s}@customer.example", subject=s) for s in ("alice", "bob", "carol")),
    )

    def crash_at(reached):
        if reached == step:
            raise Crash(step)

    with pytest.raises(Crash):
        poller(dovecot, storing(desk), checkpoint=crash_at).run_once()
    assert inbound_subjects(desk.db) == ([] if step == "fetched" else ["alice", "bob", "carol"])
    assert [flags for _, flags in folder(dovecot, "INBOX")] == [(), (), ()]  # still unseen

    assert poller(dovecot, storing(desk)).run_once() is True  # the restarted gateway
    process_all(desk)
    assert sorted(t.subject for t in tickets(desk.db)) == ["alice", "bob", "carol"]
    assert inbound_subjects(desk.db) == ["alice", "bob", "carol"]
    assert folder(dovecot, "INBOX") == []
    assert subjects(dovecot, "Processed") == ["alice", "bob", "carol"]


def test_uidvalidity_change_rescans_without_losing_or_duplicating(dovecot, desk):
    add_contact(desk.db, "alice@customer.example")
    first, second = mail(subject="first"), mail(subject="second")
    append(dovecot, first, second, folder="Support")
    with dovecot.client() as client:
        old_validity = client.select_folder("Support")[b"UIDVALIDITY"]

    def connection_lost(reached):
        if reached == "moving":
            raise ConnectionResetError("lost before the move")

    reader = poller(dovecot, storing(desk), folders=("Support",), checkpoint=connection_lost)
    with pytest.raises(ConnectionResetError):
        reader.run_once()  # both stored; the poller remembers UIDs 1 and 2 as awaiting a move

    with dovecot.client() as client:  # the folder is rebuilt: same UIDs, other messages
        client.delete_folder("Support")
        client.create_folder("Support")
        assert client.select_folder("Support")[b"UIDVALIDITY"] != old_validity
    append(dovecot, mail(subject="third"), mail(subject="fourth"), first, folder="Support")

    reader.checkpoint = lambda reached: None
    assert reader.run_once() is True
    assert inbound_subjects(desk.db) == ["first", "fourth", "second", "third"]
    assert folder(dovecot, "Support") == []
    assert subjects(dovecot, "Processed") == ["first", "fourth", "third"]


def test_mail_that_cannot_be_stored_stays_unseen_and_is_retried(dovecot, desk):
    add_contact(desk.db, "alice@customer.example")
    append(dovecot, mail(subject="Site down"))
    down = Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")

    def store_nowhere(mails):
        return intake.accept(down, mails, desk.clock(), "support.example")

    assert poller(dovecot, store_nowhere).run_once() is False
    assert folder(dovecot, "INBOX") == [("Site down", ())]
    assert folder(dovecot, "Processed") == []

    assert poller(dovecot, storing(desk)).run_once() is True
    process_all(desk)
    assert [t.subject for t in tickets(desk.db)] == ["Site down"]
    assert subjects(dovecot, "Processed") == ["Site down"]


def test_mail_over_the_size_limit_stays_in_place_and_is_reported_once(dovecot, desk, caplog):
    append(dovecot, mail(subject="small"), mail(subject="large", body="x" * 4000))
    reader = poller(dovecot, storing(desk), max_message_size=2048)
    assert reader.run_once() is True
    assert reader.run_once() is True
    assert inbound_subjects(desk.db) == ["small"]
    assert folder(dovecot, "INBOX") == [("large", ())]
    assert len([r for r in caplog.records if "over the limit" in r.getMessage()]) == 1


# Connections ---------------------------------------------------------------------------


def test_poller_recovers_after_the_server_restarts_and_logs_once(dovecot, desk, caplog):
    caplog.set_level(logging.DEBUG, logger="gateway.edges.imap_in")
    append(dovecot, mail(subject="before"))
    states: list[tuple[str, str]] = []
    reader = poller(dovecot, storing(desk), backoff=(0.05, 0.2), timeout=5,
                    on_state=lambda state, why: states.append((state, why)))  # fmt: skip
    reader.start()
    try:
        wait_for(lambda: inbound_subjects(desk.db) == ["before"])
        dovecot.stop()
        wait_for(lambda: len(retries(caplog)) >= 3)
        dovecot.start()
        append(dovecot, mail(subject="after"))
        wait_for(lambda: inbound_subjects(desk.db) == ["after", "before"])
    finally:
        reader.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "unavailable" in warnings[0].getMessage()
    assert any("available again" in r.getMessage() for r in caplog.records)
    assert subjects(dovecot, "Processed") == ["after", "before"]
    # said at the first good read too (the gateway records that only after an outage, as one
    # recorded before a restart), then once at the outage's start and once at its end
    assert [state for state, _ in states] == ["available", "unavailable", "available"]
    assert states[1][1].startswith("server: ")


def test_a_mailbox_that_cannot_be_read_needs_a_look_in_status(
    dovecot, start_gateway, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "not the password")
    account = ImapAccountConfig(host="127.0.0.1", port=dovecot.port, security="none",
                                username=USER, password_env="TEST_IMAP_PASSWORD")  # fmt: skip
    gw = start_gateway(imap={"enabled": True, "poll_seconds": 3600, "accounts": (account,)})
    name = f"{USER}@127.0.0.1"

    def down() -> dict:
        with gw.db.read() as session:
            return health.imap_down(session, (name,))

    wait_for(lambda: name in down())
    config = cli_config(tmp_path, gw)
    with config.open("a") as file:
        file.write(f"\n[imap]\nenabled = true\n[[imap.accounts]]\nhost = '127.0.0.1'\n"
                   f"port = {dovecot.port}\nsecurity = 'none'\nusername = '{USER}'\n"
                   "password_env = 'TEST_IMAP_PASSWORD'\n")  # fmt: skip
    code, out, _ = run_cli(capsys, config, "status")
    assert code == 1
    assert f"attention: IMAP mailbox {name} cannot be read since" in out
    assert "AUTHENTICATIONFAILED" in out or "LoginError" in out

    monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)  # mended, and the gateway restarted
    start_gateway(imap={"enabled": True, "poll_seconds": 3600, "accounts": (account,)})
    wait_for(lambda: name not in down())
    code, out, _ = run_cli(capsys, config, "status")
    assert code == 0 and "nothing needs a look" in out


def retries(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "still failing" in r.getMessage()]


def test_without_move_or_idle_it_polls_and_copies_then_expunges(desk):
    server = Dovecot(capabilities="IMAP4rev1 LITERAL+ UIDPLUS UNSELECT NAMESPACE MULTIAPPEND")
    server.start()
    try:
        append(server, mail(subject="one"))
        reader = poller(server, storing(desk), poll_seconds=0.1, folders=("INBOX", "Support"))
        reader.start()
        try:
            wait_for(lambda: inbound_subjects(desk.db) == ["one"])
            append(server, mail(subject="two"), folder="Support")
            wait_for(lambda: inbound_subjects(desk.db) == ["one", "two"])
            wait_for(lambda: subjects(server, "Processed") == ["one", "two"])
        finally:
            reader.stop()
        assert folder(server, "INBOX") == []  # copied, flagged \Deleted and expunged
        assert server.idling() == 0
    finally:
        server.remove()


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_and_starttls_verify_the_server(desk, security):
    server = Dovecot(tls=True)
    server.start()
    try:
        append(server, mail(subject=security))
        port = server.tls_port if security == "tls" else server.port
        reader = poller(
            server,
            storing(desk),
            port=port,
            security=security,
            ssl_context=trusting(server.ca_file),
        )
        assert reader.run_once() is True
        assert inbound_subjects(desk.db) == [security]
        untrusted = poller(server, storing(desk), port=port, security=security)
        with pytest.raises(ssl.SSLError):
            untrusted.run_once()
    finally:
        server.remove()


def test_the_gateway_reads_a_mailbox_over_tls_trusting_its_own_ca_file(start_gateway, monkeypatch):
    server = Dovecot(tls=True)
    server.start()
    try:
        monkeypatch.setenv("TEST_IMAP_PASSWORD", PASSWORD)
        account = ImapAccountConfig(
            host="127.0.0.1",
            port=server.tls_port,
            security="tls",
            ca_file=str(server.ca_file),  # a private server's certificate, verified
            username=USER,
            password_env="TEST_IMAP_PASSWORD",
        )
        gw = start_gateway(imap={"enabled": True, "poll_seconds": 3600, "accounts": (account,)})
        add_contact(gw.db, "alice@customer.example")
        append(server, mail(subject="Read over TLS"))
        wait_for(lambda: len(tickets(gw.db)) == 1, explain=lambda: gateway_state(gw, server))
        assert [t.subject for t in tickets(gw.db)] == ["Read over TLS"]
    finally:
        server.remove()


@pytest.mark.parametrize("source", ["file", "command"])
def test_xoauth2_token_from_a_file_or_a_command(dovecot, desk, tmp_path, source):
    append(dovecot, mail(subject="oauth"))
    if source == "file":
        token_file = tmp_path / "token"
        token_file.write_text(TOKEN + "\n")
        login = imap_mailbox.Login(USER, token_file=token_file)
    else:
        command = shlex.join([sys.executable, "-c", f"print({TOKEN!r})"])
        login = imap_mailbox.Login(USER, token_command=command)
    assert poller(dovecot, storing(desk), login=login).run_once() is True
    assert inbound_subjects(desk.db) == ["oauth"]


# Volume --------------------------------------------------------------------------------


def test_a_folder_of_thousands_drains(dovecot, tmp_path, clock):
    gateway = Gateway(make_config(tmp_path, f"sqlite:///{tmp_path / 'drain.db'}"), clock=clock)
    gateway.init()
    count = 2000
    batch = [
        f"From: alice@customer.example\r\nTo: support@support.example\r\nSubject: bulk {n}\r\n"
        f"Message-ID: <bulk.{n}@customer.example>\r\n\r\nmessage {n}\r\n".encode()
        for n in range(count)
    ]
    append(dovecot, *batch)
    began = time.monotonic()
    assert poller(dovecot, storing(gateway)).run_once() is True
    elapsed = time.monotonic() - began
    with gateway.db.read() as session:
        stored = session.exec(select(func.count(func.distinct(Inbound.message_id)))).one()
    gateway.db.dispose()
    assert stored == count
    assert folder(dovecot, "INBOX") == []
    assert len(folder(dovecot, "Processed")) == count
    print(f"drained {count} messages in {elapsed:.1f}s")


# Configuration and pieces ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("To: support+abc@support.example\r\n", ("support+abc@support.example",)),
        (
            "To: x@other.example\r\nCc: Support <SUPPORT@support.example>\r\n",
            ("support@support.example",),
        ),
        (
            "Delivered-To: complaints@support.example\r\nTo: support@support.example\r\n",
            ("complaints@support.example", "support@support.example"),
        ),
        ("To: list@other.example\r\n", (USER,)),  # Bcc: the account's own address
    ],
)
def test_envelope_recipients_come_from_our_domains_in_the_headers(headers, expected):
    raw = f"Return-Path: <a@b.example>\r\n{headers}From: c@d.example\r\n\r\nbody\r\n".encode()
    mailbox = imap_mailbox.Mailbox("h", 143, "none", imap_mailbox.Login(USER), address=USER)
    envelope = imap_mailbox.envelope_for(raw, mailbox, "INBOX", DOMAINS)
    assert envelope.rcpt_tos == expected
    assert envelope.mail_from == "a@b.example" and envelope.source == "imap"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ("Return-Path: <a@b.example>\r\nFrom: c@d.example\r\n", "a@b.example"),
        ("Return-Path: <>\r\nFrom: MAILER-DAEMON@d.example\r\n", ""),  # a bounce
        ("From: Carol <c@d.example>\r\n", "c@d.example"),  # put there by a mail client
    ],
)
def test_envelope_sender_is_the_return_path_else_the_author(headers, expected):
    raw = f"{headers}To: support@support.example\r\n\r\nbody\r\n".encode()
    mailbox = imap_mailbox.Mailbox("h", 143, "none", imap_mailbox.Login(USER), address=USER)
    assert imap_mailbox.envelope_for(raw, mailbox, "INBOX", DOMAINS).mail_from == expected


def test_imap_settings_load_from_toml(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        "[imap]\nenabled = true\npoll_seconds = 120\n"
        "[[imap.accounts]]\nhost = 'imap.example.net'\nusername = 'support@support.example'\n"
        "password_env = 'IMAP_PASSWORD'\n"
        "[[imap.accounts]]\nhost = 'outlook.office365.com'\nsecurity = 'tls'\n"
        "username = 'help@support.example'\nxoauth2_token_file = 'secrets/token'\n"
        "folders = ['INBOX', 'Escalations']\nprocessed_folder = 'Done'\n"
    )
    imap = config_module.load(path, environ={}).imap
    assert imap.enabled and imap.poll_seconds == 120
    plain, hosted = imap.accounts
    assert (plain.port, plain.security, plain.folders) == (993, "tls", ("INBOX",))
    assert plain.processed_folder == "Processed"
    assert hosted.xoauth2_token_file == "secrets/token" and hosted.processed_folder == "Done"


@pytest.mark.parametrize(
    ("account", "problem"),
    [
        ("host = 'h'\nusername = 'u'", "exactly one of"),
        ("host = 'h'\nusername = 'u'\npassword_env = 'P'\nxoauth2_token_file = 't'", "exactly one"),
        ("host = 'h'\nusername = 'u'\npassword_env = 'P'\nsecurity = 'ssl'", "security"),
        ("username = 'u'\npassword_env = 'P'", "host: required"),
        ("host = 'h'\nusername = 'u'\npassword_env = 'P'\nprocessed_folder = 'INBOX'", "watched"),
        (
            "host = 'h'\nusername = 'u'\npassword_env = 'P'\nca_file = 'ca.pem'",
            r"imap\.accounts\[0\]\.ca_file: no such file",
        ),
    ],
)
def test_imap_account_mistakes_are_named(tmp_path, account, problem):
    path = tmp_path / "config.toml"
    path.write_text(f"[[imap.accounts]]\n{account}\n")
    with pytest.raises(config_module.ConfigError, match=problem):
        config_module.load(path, environ={})
