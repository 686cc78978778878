"""Shared fixtures: a database on SQLite and PostgreSQL, a clock tests control, a running
gateway on a loopback port, and a real SMTP sink that records what the gateway sends."""

from __future__ import annotations

import dataclasses
import os
import secrets
import smtplib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from ports import free_port  # noqa: F401 (tests import it from here)

from gateway import config as config_module
from gateway.app import Gateway
from gateway.store import directory
from gateway.store.db import Database
from gateway.store.vault import Vault

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


# Databases -------------------------------------------------------------------------------


def _postgres_url() -> str | None:
    url = os.environ.get("GATEWAY_TEST_POSTGRES_URL", DEFAULT_PG)
    try:
        import psycopg

        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, connect_timeout=3):
            return url
    except Exception:
        return None


_PG_URL = _postgres_url()


def pytest_report_header(config):
    return f"postgres: {'available at ' + _PG_URL if _PG_URL else 'not reachable'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    """A fresh, empty database: a file on SQLite, a private schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gateway.db'}"
        return
    if _PG_URL is None:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but PostgreSQL is not reachable")
        pytest.skip("PostgreSQL not reachable")
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    plain = _PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in _PG_URL else "?"
    yield f"{_PG_URL}{separator}options=-csearch_path%3D{schema}"
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


def key_file(tmp_path: Path) -> Path:
    """Where the default config (base folder `tmp_path`) keeps the master key."""
    return tmp_path / "var" / "master.key"


@pytest.fixture
def db(db_url, tmp_path) -> Database:
    database = Database(db_url, busy_timeout_ms=10_000, vault=Vault(key_file(tmp_path)))
    database.create_schema()
    yield database
    database.dispose()


# Clock ----------------------------------------------------------------------------------


class Clock:
    """Time under the test's control: `advance` moves it, nothing sleeps."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, **delta) -> datetime:
        with self._lock:
            self.now += timedelta(**delta)
            return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


# SMTP sink ------------------------------------------------------------------------------


@dataclasses.dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, policy=policy.default)

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""


class SinkHandler:
    """Records every message; `responses` can queue SMTP answers to give instead of 250, and
    `refusing` maps addresses to the answer RCPT gets (as a server refuses unknown users)."""

    def __init__(self):
        self.received: list[Received] = []
        self.responses: list[str] = []
        self.refusing: dict[str, str] = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            refusal = self.refusing.get(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.responses:
                return self.responses.pop(0)
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.received if address in m.rcpt_tos]


@pytest.fixture
def sink():
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), decode_data=False)
    controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


# The gateway ----------------------------------------------------------------------------


def make_config(tmp_path: Path, db_url: str, **sections) -> config_module.Config:
    """The default config with a test database, a free port and section overrides."""
    base = config_module.load(None, environ={})
    # Generous lock wait: a loaded machine must not turn a slow turn into a failed test.
    # Outage tests that want 451 quickly set their own.
    changes = {"database": dataclasses.replace(base.database, url=db_url, busy_timeout_ms=10_000)}
    changes["smtp"] = dataclasses.replace(base.smtp, port=free_port())
    changes["outbound"] = dataclasses.replace(base.outbound, maildir=str(tmp_path / "outbox"))
    web_port = free_port()  # the rating page; links in mail point at it
    changes["web"] = dataclasses.replace(
        base.web, port=web_port, base_url=f"http://127.0.0.1:{web_port}"
    )
    for name, values in sections.items():
        changes[name] = dataclasses.replace(changes.get(name, getattr(base, name)), **values)
    return dataclasses.replace(base, base_dir=tmp_path, **changes)


class RunningGateway:
    """A started gateway plus helpers to talk to it and wait for its work to finish."""

    def __init__(self, gateway: Gateway, sink: SinkHandler | None):
        self.gw, self.sink = gateway, sink
        self.db = gateway.db
        self.config = gateway.config

    @property
    def support(self) -> str:
        return self.config.company.support_address

    def smtp(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.gw.smtp_port, timeout=10)

    def send(self, message: EmailMessage | bytes, mail_from=None, to=None) -> tuple[int, bytes]:
        """Send over real SMTP; returns the final (code, text) of the DATA command."""
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=policy.SMTP)
        if not isinstance(message, bytes):
            mail_from = mail_from or message["From"].addresses[0].addr_spec
            to = to or [a.addr_spec for a in message["To"].addresses]
        with self.smtp() as client:
            client.ehlo()
            client.mail(mail_from or "")
            for rcpt in to:
                code, text = client.rcpt(rcpt)
                assert code == 250, (code, text)
            return client.data(raw)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every inbound row is processed and every due mail delivered."""
        deadline = time.monotonic() + timeout
        # Processing and delivery are woken; timed jobs are not (tests run them by hand at the
        # moments they choose), but a run the processor started is waited for.
        woken = [self.gw.process_worker, self.gw.delivery_worker]
        calm = 0
        while time.monotonic() < deadline:
            busy = any(worker.busy for worker in [*woken, self.gw.jobs_worker])
            with self.db.read() as session:
                from sqlmodel import func, or_, select

                from gateway.store.tables import Inbound, Outbox

                pending = session.exec(
                    select(func.count(Inbound.id)).where(Inbound.status == "pending")
                ).one()
                due = session.exec(
                    select(func.count(Outbox.id)).where(
                        Outbox.status == "pending",
                        or_(Outbox.next_attempt_at <= self.gw.clock(), Outbox.last_error == None),  # noqa: E711
                    )
                ).one()
            # twice in a row: a claimed mail is neither due nor new, but its worker is busy
            calm = calm + 1 if not (pending or due or busy) else 0
            if calm >= 2:
                return
            if pending or due:
                for worker in woken:
                    worker.wake()
            time.sleep(0.02)
        raise AssertionError("gateway did not settle in time")

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.02)
        raise AssertionError("condition not met in time")


@pytest.fixture
def start_gateway(tmp_path, db_url, clock, sink):
    """Start a gateway with config overrides; outbound mail goes to the SMTP sink."""
    started: list[Gateway] = []

    def start(resolver=None, **sections) -> RunningGateway:
        outbound = {"mode": "smtp", "host": "127.0.0.1", "port": sink.port}
        outbound.update(sections.pop("outbound", {}))
        cfg = make_config(tmp_path, db_url, outbound=outbound, **sections)
        gateway = Gateway(cfg, clock=clock, resolver=resolver)
        gateway.init()
        gateway.start()
        started.append(gateway)
        return RunningGateway(gateway, sink)

    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def gateway(start_gateway) -> RunningGateway:
    return start_gateway()


def add_contact(db: Database, email: str, *, name="", account="Acme", role="owner", lang="en"):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.write() as session:
        acct = directory.get_or_create_account(session, account, now)
        directory.upsert_contact(
            session, email=email, name=name, account_id=acct.id, role=role, language=lang, now=now
        )


def mail(
    sender="alice@customer.example",
    to="support@support.example",
    subject="Site down",
    body="My site is down.",
    **headers,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
    # A letter first, as mail clients write them: an id of 16 hex digits is all digits once in
    # 2,000, and one in 70,000 would be a Luhn-valid card number standing alone.
    message["Message-ID"] = headers.pop("message_id", f"<m{secrets.token_hex(8)}@customer.example>")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message
