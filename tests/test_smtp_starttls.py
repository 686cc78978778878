"""STARTTLS on the listener, for mail servers that deliver to us across the internet: offered
only with a certificate configured, mail over it stored as any other, and commands a client
sends in clear behind STARTTLS discarded (the STARTTLS command injection of CVE-2011-0411),
so the encrypted session starts afresh."""

from __future__ import annotations

import socket

import pytest
from conftest import add_contact, mail
from dovecot import self_signed, trusting
from sqlmodel import select
from test_smtp_connections import replies, talk

from gateway import config as config_module
from gateway.store.tables import Ticket

ALICE, SUPPORT = "alice@customer.example", "support@support.example"


@pytest.fixture
def certificate(tmp_path):
    folder = tmp_path / "listener-tls"
    folder.mkdir()
    return self_signed(folder), folder / "key.pem"


@pytest.fixture
def with_tls(start_gateway, certificate):
    cert, key = certificate
    gw = start_gateway(smtp={"tls_cert_file": str(cert), "tls_key_file": str(key)})
    add_contact(gw.db, ALICE)
    gw.ca_file = cert
    return gw


def test_without_a_certificate_starttls_is_not_offered(gateway):
    with gateway.smtp() as client:
        client.ehlo()
        assert not client.has_extn("starttls")


def test_mail_over_starttls_is_stored_and_confirmed(with_tls):
    with with_tls.smtp() as client:
        client.ehlo()
        assert client.has_extn("starttls")
        client.starttls(context=trusting(with_tls.ca_file))
        client.send_message(mail(subject="Sent over TLS"), to_addrs=[SUPPORT])
    with_tls.settle()
    with with_tls.db.read() as session:
        assert [t.subject for t in session.exec(select(Ticket))] == ["Sent over TLS"]
    assert with_tls.sink.to(ALICE)


def test_commands_sent_in_clear_behind_starttls_are_discarded(with_tls):
    raw = socket.create_connection(("127.0.0.1", with_tls.gw.smtp_port), timeout=10)
    replies(raw)
    talk(raw, b"EHLO client.example")
    raw.sendall(b"STARTTLS\r\nMAIL FROM:<eve@evil.example>\r\n")  # one packet, in clear
    assert replies(raw)[0].startswith(b"220")
    with trusting(with_tls.ca_file).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        # The first answer over TLS is the EHLO's: nothing answered the injected MAIL.
        assert talk(tls, b"EHLO client.example")[0].startswith(b"250")
        [refused] = talk(tls, f"RCPT TO:<{SUPPORT}>".encode())
        assert refused.startswith(b"503")  # no MAIL FROM in this session
        assert talk(tls, b"QUIT")[0].startswith(b"221")


@pytest.mark.parametrize(
    ("smtp", "named"),
    [
        ({"tls_cert_file": "cert.pem"}, "smtp.tls_key_file"),
        ({"tls_key_file": "key.pem"}, "smtp.tls_cert_file"),
        ({"tls_cert_file": "missing.pem", "tls_key_file": "key.pem"}, "smtp.tls_cert_file"),
        ({"tls_cert_file": "key.pem", "tls_key_file": "key.pem"}, "smtp.tls_cert_file"),
    ],
)
def test_a_certificate_that_cannot_be_used_stops_start_up_naming_the_key(
    tmp_path, certificate, smtp, named
):
    _, key = certificate
    (tmp_path / "key.pem").write_bytes(key.read_bytes())  # a key is not a certificate
    table = "".join(f'{name} = "{value}"\n' for name, value in smtp.items())
    (tmp_path / "config.toml").write_text(f"[smtp]\n{table}")
    with pytest.raises(config_module.ConfigError, match=named.replace(".", r"\.")):
        config_module.load(tmp_path / "config.toml", environ={})
