"""The checks that make a bad configuration value stop start-up with one line naming its key.

`config.load` reads the values and calls `validate` with a `fail(section, key, problem)` that
raises; the timed actions' keys are checked by `config_timed` the same way.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

Fail = Callable[[str, str, str], None]


def validate(config, fail: Fail) -> None:
    """Check the values `load` read; `fail(section, key, problem)` raises."""
    for key in ("support_address", "complaints_address"):
        address = getattr(config.company, key)
        if address.count("@") != 1 or not address.partition("@")[0]:
            fail("company", key, f"not an email address: {address!r}")
    tag = config.company.tag
    if not tag.isalnum():
        fail("company", "tag", f"letters and digits only, got {tag!r}")
    for section, port in (("smtp", config.smtp.port), ("web", config.web.port)):
        if not (0 < port < 65536):
            fail(section, "port", f"out of range: {port}")
    if not 1 <= config.smtp.processes <= 64:
        fail("smtp", "processes", f"must be between 1 and 64, got {config.smtp.processes}")
    _check_listener_tls(config, fail)
    if config.smtp.max_message_size < 1024:
        fail("smtp", "max_message_size", "must be at least 1024 bytes")
    if config.sla.urgent_minutes < 0:
        fail("sla", "urgent_minutes", "must be 0 (as any ticket) or more minutes")
    for key in ("command_timeout_seconds", "data_timeout_seconds"):
        if getattr(config.smtp, key) < 1:
            fail("smtp", key, "must be at least 1 second")
    _check_routes(config, fail)
    if not config.database.url.startswith(("sqlite:", "postgresql")):
        fail("database", "url", "must be a sqlite:/// or postgresql+psycopg:// URL")
    if not _known_timezone(config.company.timezone):
        fail("company", "timezone", f"unknown time zone {config.company.timezone!r}")
    out = config.outbound
    if out.starttls and out.implicit_tls:
        fail("outbound", "implicit_tls", "TLS from the first byte leaves no STARTTLS: set one")
    if out.mode == "smtp" and out.ca_file and not config.path(out.ca_file).is_file():
        fail("outbound", "ca_file", f"no such file: {config.path(out.ca_file)}")
    for index, account in enumerate(config.imap.accounts):
        ca_file = config.path(account.ca_file) if account.ca_file else None
        if ca_file is not None and not ca_file.is_file():
            fail(f"imap.accounts[{index}]", "ca_file", f"no such file: {ca_file}")


def listener_tls(config) -> ssl.SSLContext | None:
    """The SMTP listener's STARTTLS context, when a certificate is configured."""
    smtp = config.smtp
    if not smtp.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.path(smtp.tls_cert_file), config.path(smtp.tls_key_file))
    return context


def _check_listener_tls(config, fail: Fail) -> None:
    smtp = config.smtp
    if bool(smtp.tls_cert_file) != bool(smtp.tls_key_file):
        missing = "tls_key_file" if smtp.tls_cert_file else "tls_cert_file"
        fail("smtp", missing, "STARTTLS needs both the certificate and its key")
    try:
        listener_tls(config)
    except (OSError, ssl.SSLError) as error:  # no such file, not PEM, a key of another cert
        fail("smtp", "tls_cert_file", f"cannot load it with smtp.tls_key_file: {error}")


def _known_timezone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except Exception:
        return False
    return True


def _check_routes(config, fail: Fail) -> None:
    """Each route names an address the listener accepts (else its mail would get 550) and a
    department; whether that department exists is known only from the database."""
    for entry, (address, department) in zip(
        config.routing.addresses, config.routing.routes(), strict=True
    ):
        if "=" not in entry or address.count("@") != 1 or not department:
            fail("routing", "addresses", f'expected "ADDRESS=DEPARTMENT", got {entry!r}')
        if address.rpartition("@")[2] not in config.accepted_domains:
            fail("routing", "addresses", f"{address} is not in one of the gateway's domains")
    for entry, (department, words) in zip(
        config.routing.keywords, config.routing.keyword_routes(), strict=True
    ):
        if ":" not in entry or not department or not words:
            fail("routing", "keywords", f'expected "DEPARTMENT: word|word", got {entry!r}')
