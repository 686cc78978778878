"""Read `config.toml` into frozen dataclasses, with `GATEWAY_<SECTION>_<KEY>` overrides.

Only the composition root (`app.py`) and the CLI call `load`; everything else receives the
pieces it needs as arguments. A bad value stops start-up with one line naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway import config_checks, config_timed


class ConfigError(Exception):
    """A configuration value is missing or wrong; the message names the key."""


@dataclass(frozen=True)
class CompanyConfig:
    name: str = "Example Hosting"
    domain: str = "support.example"
    support_address: str = "support@support.example"
    complaints_address: str = "complaints@support.example"
    tag: str = "VB"
    language: str = "en"
    timezone: str = "UTC"
    extra_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///var/gateway.db"
    busy_timeout_ms: int = 30_000


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 2525
    max_message_size: int = 26_214_400
    max_recipients: int = 100
    max_received_headers: int = 50
    max_header_bytes: int = 262_144  # the header block; beyond, 552
    max_bytes_in_flight: int = 268_435_456  # of messages being received, all sessions; 0: none
    processes: int = 1  # listener processes sharing the port (SO_REUSEPORT)
    max_connections: int = 500  # open at once, per listener process; 0: no cap
    max_connections_per_ip: int = 50  # from one client address, per listener process; 0: none
    tls_cert_file: str = ""  # PEM certificate chain: STARTTLS is offered with it and its key
    tls_key_file: str = ""
    command_timeout_seconds: int = 60  # from one command to the next, else 421 and closed
    data_timeout_seconds: int = 300  # from DATA to the end of the message


@dataclass(frozen=True)
class OutboundConfig:
    mode: str = "maildir"
    maildir: str = "var/outbox"
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    implicit_tls: bool = False  # TLS from the first byte (SMTPS, usually port 465)
    ca_file: str = ""  # PEM file of the authorities trusted for the smarthost; "": the system's
    username: str = ""
    password_env: str = ""
    timeout_seconds: int = 60
    lifetime_hours: int = 120
    automatic_lifetime_hours: int = 24  # confirmations, notices, notifications
    first_retry_minutes: int = 5
    max_retry_minutes: int = 60
    max_message_size: int = 26_214_400  # a staff reply bigger, with its files, is not sent


@dataclass(frozen=True)
class AuthConfig:
    mode: str = "trusted-headers"
    trusted_authserv_ids: tuple[str, ...] = ()
    insecure_trust_staff_from: bool = False
    dns_timeout_seconds: int = 5  # verify mode: per DNS lookup


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 8025
    base_url: str = "http://127.0.0.1:8025"
    secret_env: str = ""  # variable holding the key that signs links; else secret_file
    secret_file: str = ""  # file holding that key; neither: a random key kept in the database


@dataclass(frozen=True)
class SlaConfig:
    first_response_minutes: int = 60
    warn_before_minutes: int = 15
    urgent_minutes: int = 15  # an urgent ticket's awaited answer is due this soon (0: as usual)
    hours: tuple[str, ...] = ()  # opening hours, e.g. "mon-fri 09:00-18:00"; none: 24/7
    holidays: tuple[str, ...] = ()  # "YYYY-MM-DD"
    department_hours: tuple[str, ...] = ()  # "Billing: mon-fri 09:00-17:00"
    department_holidays: tuple[str, ...] = ()  # "Billing: 2026-12-24"


@dataclass(frozen=True)
class LimitsConfig:
    """Caps on automatic mail to one address (RFC 3834 asks responders to limit themselves)."""

    auto_per_hour: int = 10
    auto_per_day: int = 40
    stranger_notice_hours: int = 24
    stranger_notices_per_hour: int = 100  # all unknown addresses together; 0: none at all
    max_mime_depth: int = 20
    max_mime_parts: int = 500
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments_bytes: int = 25 * 1024 * 1024
    parse_timeout_seconds: int = 5
    parse_memory_mb: int = 1024


@dataclass(frozen=True)
class RoutingConfig:
    """Where new tickets go before anyone transfers them ("" = every staff member is told)."""

    default_department: str = ""
    # "billing@support.example=Billing": a new ticket sent to that address starts there
    addresses: tuple[str, ...] = ()
    # "Billing: invoice|refund": one whose subject holds one of the words (no address route);
    # "|" between them, as a comma separates entries in GATEWAY_ROUTING_KEYWORDS
    keywords: tuple[str, ...] = ()

    def routes(self) -> tuple[tuple[str, str], ...]:
        """(address, department) pairs, in the order written: the first one mail names wins."""
        pairs = (entry.partition("=") for entry in self.addresses)
        return tuple((address.strip().lower(), name.strip()) for address, _, name in pairs)

    def keyword_routes(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """(department, words) pairs, in the order written: the first that matches wins."""
        pairs = (entry.partition(":") for entry in self.keywords)
        return tuple(
            (name.strip(), tuple(w.strip().casefold() for w in words.split("|") if w.strip()))
            for name, _, words in pairs
        )


@dataclass(frozen=True)
class ApprovalsConfig:
    """Written permission requests (`/ask-permission`): how long an answer is accepted."""

    expire_days: int = 7


@dataclass(frozen=True)
class ProcessingConfig:
    sweep_seconds: int = 30
    batch_size: int = 64


@dataclass(frozen=True)
class PrivacyConfig:
    """Encryption at rest: the master key file lives outside the database (mode 0600)."""

    key_file: str = "var/master.key"


@dataclass(frozen=True)
class ImapAccountConfig:
    host: str = ""
    port: int = 993
    security: str = "tls"
    ca_file: str = ""  # PEM file of the authorities trusted for the server; "": the system's
    username: str = ""
    password_env: str = ""
    xoauth2_token_command: str = ""
    xoauth2_token_file: str = ""
    folders: tuple[str, ...] = ("INBOX",)
    processed_folder: str = "Processed"


@dataclass(frozen=True)
class ImapConfig:
    enabled: bool = False
    poll_seconds: int = 60
    accounts: tuple[ImapAccountConfig, ...] = ()


@dataclass(frozen=True)
class Config:
    company: CompanyConfig = field(default_factory=CompanyConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    web: WebConfig = field(default_factory=WebConfig)
    sla: SlaConfig = field(default_factory=SlaConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    approvals: ApprovalsConfig = field(default_factory=ApprovalsConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    imap: ImapConfig = field(default_factory=ImapConfig)
    complaints: config_timed.ComplaintsConfig = field(default_factory=config_timed.ComplaintsConfig)
    ratings: config_timed.RatingsConfig = field(default_factory=config_timed.RatingsConfig)
    lifecycle: config_timed.LifecycleConfig = field(default_factory=config_timed.LifecycleConfig)
    report: config_timed.ReportConfig = field(default_factory=config_timed.ReportConfig)
    jobs: config_timed.JobsConfig = field(default_factory=config_timed.JobsConfig)
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def accepted_domains(self) -> tuple[str, ...]:
        """Domains whose recipients the listener accepts (550 for any other)."""
        own = {self.company.domain.lower()}
        for address in (self.company.support_address, self.company.complaints_address):
            own.add(address.rpartition("@")[2].lower())
        own.update(d.lower() for d in self.company.extra_domains)
        return tuple(sorted(own))

    def path(self, value: str) -> Path:
        """Resolve a path from the config relative to the config file's folder."""
        candidate = Path(value)
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path made relative to the config folder."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////"):
            rest = url[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str(self.path(rest))
        return url


_SECTIONS: dict[str, type] = {
    "company": CompanyConfig,
    "database": DatabaseConfig,
    "smtp": SmtpConfig,
    "outbound": OutboundConfig,
    "auth": AuthConfig,
    "web": WebConfig,
    "sla": SlaConfig,
    "limits": LimitsConfig,
    "processing": ProcessingConfig,
    "routing": RoutingConfig,
    "approvals": ApprovalsConfig,
    "privacy": PrivacyConfig,
    **config_timed.SECTIONS,
}

_CHOICES = {
    ("outbound", "mode"): ("maildir", "smtp"),
    ("auth", "mode"): ("trusted-headers", "verify"),
    ("company", "language"): ("en", "fr"),
}


def load(path: Path | None, environ: Mapping[str, str] | None = None) -> Config:
    """Load a config file (or the defaults when `path` is None) and apply env overrides."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        try:
            with open(path, "rb") as handle:
                data = tomllib.load(handle)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
        except OSError as error:
            raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
        base_dir = Path(path).resolve().parent
    unknown = set(data) - set(_SECTIONS) - {"imap"}
    if unknown:
        raise ConfigError(f"unknown config section [{sorted(unknown)[0]}]")
    sections = {
        name: _build_section(name, cls, data.get(name, {}), environ)
        for name, cls in _SECTIONS.items()
    }
    imap = _build_imap(data.get("imap", {}), environ)
    config = Config(**sections, imap=imap, base_dir=base_dir)
    _validate(config, environ)
    return config


def _build_section(name: str, cls: type, table: Any, environ: Mapping[str, str]) -> Any:
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key")
    values: dict[str, Any] = {}
    defaults = cls()
    for key in known:
        env_name, label = _env_name(name, key), _label(name, key, environ)
        default = getattr(defaults, key)
        if env_name in environ:
            values[key] = _from_env(label, environ[env_name], default)
        elif key in table:
            values[key] = _coerce(label, table[key], default)
        choices = _CHOICES.get((name, key))
        if choices and values.get(key, default) not in choices:
            raise ConfigError(f"{label}: must be one of {', '.join(choices)}")
    return cls(**values)


def _env_name(section: str, key: str) -> str:
    return f"GATEWAY_{section.upper()}_{key.upper()}"


def _label(section: str, key: str, environ: Mapping[str, str]) -> str:
    """`section.key`, plus the variable's name when the value came from the environment."""
    env_name = _env_name(section, key)
    return f"{section}.{key} (from {env_name})" if env_name in environ else f"{section}.{key}"


def _build_imap(table: Any, environ: Mapping[str, str]) -> ImapConfig:
    if not isinstance(table, dict):
        raise ConfigError("[imap] must be a table")
    plain = {k: v for k, v in table.items() if k != "accounts"}
    base = _build_section("imap", ImapConfig, plain, environ)
    accounts = []
    for index, entry in enumerate(table.get("accounts", [])):
        account = _build_section(f"imap.accounts[{index}]", ImapAccountConfig, entry, {})
        _check_imap_account(f"imap.accounts[{index}]", account)
        accounts.append(account)
    return dataclasses.replace(base, accounts=tuple(accounts))


def _check_imap_account(key: str, account: ImapAccountConfig) -> None:
    if account.security not in ("tls", "starttls", "none"):
        raise ConfigError(f"{key}.security: must be tls, starttls or none")
    for name in ("host", "username"):
        if not getattr(account, name):
            raise ConfigError(f"{key}.{name}: required")
    secrets = [account.password_env, account.xoauth2_token_command, account.xoauth2_token_file]
    if sum(bool(s) for s in secrets) != 1:
        raise ConfigError(
            f"{key}: set exactly one of password_env, xoauth2_token_command, xoauth2_token_file"
        )
    if not account.folders:
        raise ConfigError(f"{key}.folders: at least one folder")
    if account.processed_folder in account.folders:  # moved mail would be read again
        raise ConfigError(f"{key}.processed_folder: must not be one of the watched folders")


def _coerce(key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{key}: expected a whole number >= 0, got {value!r}")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    return value


def _from_env(key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigError(f"{key}: expected true or false, got {raw!r}")
        return raw.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        try:
            return _coerce(key, int(raw), default)
        except ValueError:
            raise ConfigError(f"{key}: expected a whole number, got {raw!r}") from None
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


def _validate(config: Config, environ: Mapping[str, str]) -> None:
    def fail(section: str, key: str, problem: str):
        raise ConfigError(f"{_label(section, key, environ)}: {problem}")

    config_checks.validate(config, fail)
    config_timed.validate(config, fail, environ)
