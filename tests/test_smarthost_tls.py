"""Mail to the smarthost over TLS, with the certificate verified: STARTTLS (with a login, which
the smarthost takes only over TLS) and TLS from the first byte (SMTPS). A smarthost that
cannot show a trusted certificate, or offers no STARTTLS, gets nothing, never mail in clear:
the rows wait for the next try."""

from __future__ import annotations

import ssl
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from conftest import SinkHandler, free_port
from dovecot import self_signed
from test_delivery import build, outbox_rows, queue  # noqa: F401  (build is a fixture)

from gateway import config as config_module
from gateway.app import Gateway

USER, PASSWORD = "gateway", "s3cret-for-tests"


class TlsSink(SinkHandler):
    """The conftest sink, noting whether each mail came over TLS."""

    def __init__(self):
        super().__init__()
        self.over_tls: list[bool] = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.over_tls.append(server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


LOGINS: list[int] = []  # the connection (client's port) of each login tried


def _login(server, session, envelope, mechanism, auth_data):
    LOGINS.append(session.peer[1])
    good = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=good, handled=False)  # aiosmtpd then answers 535


@pytest.fixture
def certificate(tmp_path):
    folder = tmp_path / "smarthost-tls"
    folder.mkdir()
    cert = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, folder / "key.pem")
    return cert, context


@contextmanager
def smarthost(**options):
    """A TlsSink served by aiosmtpd with `options` (TLS, login) for the length of the block."""
    sink = TlsSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), decode_data=False,
                            **options)  # fmt: skip
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()


def gateway_to(build, sink: TlsSink, **outbound) -> Gateway:  # noqa: F811
    return build(mode="smtp", host="127.0.0.1", port=sink.port, timeout_seconds=5, **outbound)


def logging_in(context: ssl.SSLContext):
    """A smarthost that takes mail only after STARTTLS and a login, as most do."""
    return smarthost(tls_context=context, require_starttls=True, authenticator=_login,
                     auth_require_tls=True)  # fmt: skip


def two_mails_queued(build, sink: TlsSink, cert) -> Gateway:  # noqa: F811
    """A gateway sending to `sink` over STARTTLS with a login (password from the environment)."""
    gw = gateway_to(build, sink, starttls=True, ca_file=str(cert), username=USER,
                    password_env="SMARTHOST_PASSWORD")  # fmt: skip
    queue(gw, "alice@customer.example")
    queue(gw, "bob@customer.example")
    return gw


def test_starttls_with_a_login_delivers_over_tls(build, certificate, monkeypatch):  # noqa: F811
    cert, context = certificate
    monkeypatch.setenv("SMARTHOST_PASSWORD", PASSWORD)
    with logging_in(context) as sink:
        gw = two_mails_queued(build, sink, cert)
        assert gw.delivery.run_once() == 2
        assert {row.status for row in outbox_rows(gw)} == {"sent"}
        assert sink.over_tls == [True, True]


def test_a_refused_login_waits_for_the_next_try_and_is_tried_once(build, certificate,  # noqa: F811
                                                                     monkeypatch):  # fmt: skip
    cert, context = certificate
    monkeypatch.setenv("SMARTHOST_PASSWORD", "not-the-password")
    LOGINS.clear()
    with logging_in(context) as sink:
        gw = two_mails_queued(build, sink, cert)
        assert gw.delivery.run_once() == 2
        rows = outbox_rows(gw)
        assert {row.status for row in rows} == {"pending"}  # not given up: a setting to mend
        assert all("535" in row.last_error for row in rows)
        assert len(set(LOGINS)) == 1  # a wrong password is not tried again for every mail
        assert sink.received == []


def test_tls_from_the_first_byte_delivers(build, certificate):  # noqa: F811
    cert, context = certificate
    with smarthost(ssl_context=context) as sink:
        gw = gateway_to(build, sink, implicit_tls=True, ca_file=str(cert))
        queue(gw, "alice@customer.example")
        assert gw.delivery.run_once() == 1
        assert [row.status for row in outbox_rows(gw)] == ["sent"]
        assert sink.over_tls == [True]


@pytest.mark.parametrize(
    ("offers_starttls", "trusts_it", "why"),
    [(True, False, "CERTIFICATE_VERIFY_FAILED"), (False, True, "STARTTLS")],
    ids=["certificate-not-trusted", "no-starttls-offered"],
)
def test_a_link_that_cannot_be_secured_gets_no_mail(build, certificate,  # noqa: F811
                                                    offers_starttls, trusts_it, why):  # fmt: skip
    cert, context = certificate
    with smarthost(**({"tls_context": context} if offers_starttls else {})) as sink:
        trust = {"ca_file": str(cert)} if trusts_it else {}  # else the system's authorities
        gw = gateway_to(build, sink, starttls=True, **trust)
        queue(gw, "alice@customer.example")
        assert gw.delivery.run_once() == 1
        [row] = outbox_rows(gw)
        assert row.status == "pending" and why in row.last_error
        assert sink.received == []


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"GATEWAY_OUTBOUND_STARTTLS": "true", "GATEWAY_OUTBOUND_IMPLICIT_TLS": "true"},
         "outbound.implicit_tls"),
        ({"GATEWAY_OUTBOUND_MODE": "smtp", "GATEWAY_OUTBOUND_CA_FILE": "no/such/ca.pem"},
         "outbound.ca_file"),
    ],
)  # fmt: skip
def test_tls_settings_that_cannot_work_stop_start_up_naming_the_key(environ, named):
    with pytest.raises(config_module.ConfigError, match=named.replace(".", r"\.")):
        config_module.load(None, environ=environ)
