"""Configuration: the documented defaults, `GATEWAY_<SECTION>_<KEY>` overrides for every key,
paths relative to the config file, and a ConfigError naming the key for anything wrong."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from dovecot import self_signed
from test_cli import write_config

from gateway.app import build_sender
from gateway.config import ConfigError, load
from gateway.edges.smtp_out import MaildirSender, SmtpSender

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_match_the_design():
    config = load(None, environ={})
    assert config.database.url == "sqlite:///var/gateway.db"
    assert (config.smtp.host, config.smtp.port) == ("127.0.0.1", 2525)
    assert (config.outbound.mode, config.outbound.maildir) == ("maildir", "var/outbox")
    assert (config.web.host, config.web.port) == ("127.0.0.1", 8025)
    assert (config.sla.first_response_minutes, config.sla.warn_before_minutes) == (60, 15)
    assert (config.imap.enabled, config.imap.poll_seconds) == (False, 60)
    assert config.outbound.lifetime_hours == 5 * 24
    assert config.auth.mode == "trusted-headers" and config.auth.insecure_trust_staff_from is False


def test_shipped_config_is_a_working_single_machine_default():
    config = load(ROOT / "config.toml", environ={})
    assert config.database_url == f"sqlite:///{ROOT / 'var/gateway.db'}"
    assert (config.smtp.host, config.smtp.port) == ("127.0.0.1", 2525)
    assert config.outbound.mode == "maildir"
    assert config.path(config.outbound.maildir) == ROOT / "var/outbox"
    assert isinstance(build_sender(config), MaildirSender)


def test_relative_paths_follow_a_copied_config(tmp_path, monkeypatch):
    first = write_config(
        tmp_path / "first", "sqlite:///var/gateway.db", outbound={"maildir": "var/outbox"}
    )
    second = tmp_path / "elsewhere/site/config.toml"
    second.parent.mkdir(parents=True)
    shutil.copy(first, second)
    monkeypatch.chdir(tmp_path)  # the working folder plays no part
    for path in (first, second):
        config = load(path, environ={})
        assert config.database_url == f"sqlite:///{path.parent / 'var/gateway.db'}"
        assert config.path(config.outbound.maildir) == path.parent / "var/outbox"
        assert build_sender(config).path == path.parent / "var/outbox"


def test_absolute_and_postgres_urls_are_left_alone(tmp_path):
    absolute = f"sqlite:///{tmp_path / 'db.sqlite'}"
    assert load(write_config(tmp_path / "a", absolute), environ={}).database_url == absolute
    pg = "postgresql+psycopg://gw@db.internal:5432/gateway"
    assert load(write_config(tmp_path / "b", pg), environ={}).database_url == pg
    maildir = str(tmp_path / "mail")
    config = load(write_config(tmp_path / "c", outbound={"maildir": maildir}), environ={})
    assert config.path(config.outbound.maildir) == Path(maildir)


# Environment overrides ---------------------------------------------------------------------

# A valid value for every key whose default would not survive a blind change.
_SPECIAL = {
    "company.support_address": ("help@other.example", "help@other.example"),
    "company.complaints_address": ("grief@other.example", "grief@other.example"),
    "company.language": ("fr", "fr"),
    "company.timezone": ("America/Montreal", "America/Montreal"),
    "company.tag": ("ACME", "ACME"),
    "database.url": ("postgresql+psycopg://gw@db/gw", "postgresql+psycopg://gw@db/gw"),
    "outbound.mode": ("smtp", "smtp"),
    "auth.mode": ("verify", "verify"),
    "smtp.port": ("2626", 2626),
    "smtp.max_message_size": ("2048", 2048),
    "sla.hours": ("mon-fri 09:00-18:00", ("mon-fri 09:00-18:00",)),
    "sla.holidays": ("2026-12-25", ("2026-12-25",)),
    "sla.department_hours": ("Billing: mon-fri 09:00-17:00", ("Billing: mon-fri 09:00-17:00",)),
    "sla.department_holidays": ("Billing: 2026-12-24", ("Billing: 2026-12-24",)),
    "complaints.levels": ("ceo@support.example", ("ceo@support.example",)),
    "complaints.rota": ("mon-fri=boss@support.example", ("mon-fri=boss@support.example",)),
    "report.day": ("fri", "fri"),
    "report.time": ("09:30", "09:30"),
    "ratings.review_at_most": ("3", 3),
    "lifecycle.held_digest_time": ("07:45", "07:45"),
    "lifecycle.open_digest_time": ("07:30", "07:30"),
    "sla.urgent_minutes": ("5", 5),
    "routing.addresses": ("billing@support.example=Billing", ("billing@support.example=Billing",)),
    "routing.keywords": ("Billing: invoice", ("Billing: invoice",)),
    # The signing key must exist: the test's environment holds only the variable naming it
    # (long enough to be a key), and the config file itself is a readable file.
    "web.secret_env": ("GATEWAY_WEB_SECRET_ENV", "GATEWAY_WEB_SECRET_ENV"),
    "web.secret_file": ("config.toml", "config.toml"),
    # STARTTLS wants both: the file names a pair, the variable one file of a copy of it.
    "smtp.tls_cert_file": ("copy/cert.pem", "copy/cert.pem"),
    "smtp.tls_key_file": ("copy/key.pem", "copy/key.pem"),
}


def _override_for(key: str, default):
    """(environment text, expected value) that differs from the default."""
    if key in _SPECIAL:
        return _SPECIAL[key]
    if isinstance(default, bool):
        return ("false", False) if default else ("true", True)
    if isinstance(default, int):
        return str(default + 7), default + 7
    if isinstance(default, tuple):
        return " a.example , b.example ,", ("a.example", "b.example")
    return "changed value", "changed value"


def _all_keys():
    config = load(None, environ={})
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        if not dataclasses.is_dataclass(value):
            continue
        for key in dataclasses.fields(value):
            if key.name == "accounts":  # IMAP accounts are a list of tables, set in the file
                continue
            yield section.name, key.name, getattr(value, key.name)


@pytest.mark.parametrize(("section", "key", "default"), list(_all_keys()))
def test_every_key_can_be_overridden_from_the_environment(section, key, default, tmp_path):
    text, expected = _override_for(f"{section}.{key}", default)
    assert expected != default
    environ = {f"GATEWAY_{section.upper()}_{key.upper()}": text}
    smtp = {"port": 2525}
    if key.startswith("tls_"):
        smtp.update(tls_cert_file=str(self_signed(tmp_path)), tls_key_file="key.pem")
        shutil.copytree(tmp_path, tmp_path / "copy")
    config = load(write_config(tmp_path, smtp=smtp), environ=environ)
    assert getattr(getattr(config, section), key) == expected


def test_environment_beats_the_file(tmp_path):
    path = write_config(tmp_path, smtp={"port": 2600}, auth={"trusted_authserv_ids": ["mx"]})
    environ = {"GATEWAY_SMTP_PORT": "2700", "GATEWAY_AUTH_TRUSTED_AUTHSERV_IDS": ""}
    config = load(path, environ=environ)
    assert config.smtp.port == 2700
    assert config.auth.trusted_authserv_ids == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("yes", True), ("TRUE", True), ("0", False), ("no", False), ("False", False)],
)
def test_boolean_overrides(text, expected):
    config = load(None, environ={"GATEWAY_OUTBOUND_STARTTLS": text})
    assert config.outbound.starttls is expected


def test_relative_database_url_from_the_environment_follows_the_config(tmp_path):
    path = write_config(tmp_path / "site")
    config = load(path, environ={"GATEWAY_DATABASE_URL": "sqlite:///data/gw.db"})
    assert config.database_url == f"sqlite:///{tmp_path / 'site/data/gw.db'}"


def test_smtp_mode_builds_a_smarthost_sender_with_the_password_from_the_environment(tmp_path):
    path = write_config(
        tmp_path,
        outbound={"mode": "smtp", "host": "relay.example", "port": 587, "starttls": True,
                  "username": "gw", "password_env": "RELAY_PASSWORD"},
    )  # fmt: skip
    sender = build_sender(load(path, environ={}), environ={"RELAY_PASSWORD": "s3cret"})
    assert isinstance(sender, SmtpSender)
    assert (sender.host, sender.port, sender.starttls) == ("relay.example", 587, True)
    assert (sender.username, sender.password) == ("gw", "s3cret")


# Errors name the key ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"smtp": {"port": "2525"}}, "smtp.port"),
        ({"smtp": {"port": -1}}, "smtp.port"),
        ({"smtp": {"port": 70000}}, "smtp.port"),
        ({"web": {"port": 0}}, "web.port"),
        ({"outbound": {"starttls": "yes"}}, "outbound.starttls"),
        ({"auth": {"trusted_authserv_ids": "mx.example"}}, "auth.trusted_authserv_ids"),
        ({"auth": {"trusted_authserv_ids": [1, 2]}}, "auth.trusted_authserv_ids"),
        ({"company": {"name": 5}}, "company.name"),
        ({"company": {"tag": "V B"}}, "company.tag"),
        ({"company": {"support_address": "support"}}, "company.support_address"),
        ({"company": {"language": "de"}}, "company.language"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"smtp": {"max_message_size": 10}}, "smtp.max_message_size"),
        ({"smtp": {"processes": 0}}, "smtp.processes"),
        ({"smtp": {"processes": 65}}, "smtp.processes"),
        ({"smtp": {"processes": "2"}}, "smtp.processes"),
        ({"sla": {"urgent_minutes": -1}}, "sla.urgent_minutes"),
        ({"outbound": {"mode": "pigeon"}}, "outbound.mode"),
        ({"auth": {"mode": "trust-me"}}, "auth.mode"),
        ({"smtp": {"hots": "0.0.0.0"}}, "smtp.hots"),
        ({"smpt": {"host": "0.0.0.0"}}, "[smpt]"),
        ({"imap": {"pol_seconds": 5}}, "imap.pol_seconds"),
    ],
)
def test_bad_values_name_the_key(tmp_path, sections, key):
    with pytest.raises(ConfigError) as error:
        load(write_config(tmp_path, **sections), environ={})
    assert key in str(error.value)
    assert "\n" not in str(error.value)


def test_section_that_is_not_a_table(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('smtp = "127.0.0.1"\n')
    with pytest.raises(ConfigError, match=r"\[smtp\] must be a table"):
        load(path, environ={})


@pytest.mark.parametrize(
    ("variable", "text", "key"),
    [
        ("GATEWAY_SMTP_PORT", "25x", "smtp.port"),
        ("GATEWAY_SMTP_PORT", "-5", "smtp.port"),
        ("GATEWAY_IMAP_ENABLED", "maybe", "imap.enabled"),
        ("GATEWAY_OUTBOUND_MODE", "fax", "outbound.mode"),
        ("GATEWAY_COMPANY_TIMEZONE", "Nowhere/City", "company.timezone"),
    ],
)
def test_bad_environment_values_name_the_key(variable, text, key):
    with pytest.raises(ConfigError) as error:
        load(None, environ={variable: text})
    assert key in str(error.value) and variable in str(error.value)


def test_imap_accounts_are_read_and_their_keys_checked(tmp_path):
    account = 'host = "imap.example"\nusername = "support"\npassword_env = "IMAP_PASSWORD"\n'
    path = tmp_path / "config.toml"
    path.write_text(f'[[imap.accounts]]\n{account}folders = ["INBOX", "Support"]\n')
    [read] = load(path, environ={}).imap.accounts
    assert (read.host, read.port, read.folders) == ("imap.example", 993, ("INBOX", "Support"))
    path.write_text(f'[[imap.accounts]]\n{account}\n[[imap.accounts]]\n{account}usrname = "x"\n')
    with pytest.raises(ConfigError, match=r"imap\.accounts\[1\]\.usrname"):
        load(path, environ={})
    path.write_text(f'[[imap.accounts]]\n{account}port = "993"\n')
    with pytest.raises(ConfigError, match=r"imap\.accounts\[0\]\.port"):
        load(path, environ={})


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "absent.toml", environ={})


def test_accepted_domains_come_from_the_company_addresses():
    config = load(
        None,
        environ={
            "GATEWAY_COMPANY_COMPLAINTS_ADDRESS": "complaints@Escalations.example",
            "GATEWAY_COMPANY_EXTRA_DOMAINS": "legacy.example",
        },
    )
    assert config.accepted_domains == ("escalations.example", "legacy.example", "support.example")
