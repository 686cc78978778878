"""The `gateway` command as a user runs it: a config file, a global `--config`, readable tables
or one JSON document, and one clear line (with a non-zero exit) for bad input."""

from __future__ import annotations

import json
from email import policy
from pathlib import Path

import pytest
from conftest import add_contact, mail

from gateway import config as config_module
from gateway import intake
from gateway.app import Gateway
from gateway.cli import main
from gateway.core.model import Envelope


def toml_value(value) -> str:
    """TOML for a string, number, bool or list (JSON strings are valid TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value) if isinstance(value, str) else str(value)


def write_config(folder: Path, db_url: str | None = None, **sections: dict) -> Path:
    """Write `config.toml` into `folder`; `db_url` becomes `[database] url`."""
    if db_url is not None:
        sections = {**sections, "database": {"url": db_url, **sections.get("database", {})}}
    lines = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in values.items())
        lines.append("")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def cli_config(tmp_path: Path, running) -> Path:
    """A config file of its own for the CLI, on a running gateway's database and key file."""
    key_file = running.config.path(running.config.privacy.key_file)
    return write_config(
        tmp_path / "cli", running.config.database.url, privacy={"key_file": str(key_file)}
    )


def run_cli(capsys, config: Path, *args: str) -> tuple[int, str, str]:
    """Run `gateway --config CONFIG ARGS...`; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["--config", str(config), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, config: Path, *args: str):
    code, out, err = run_cli(capsys, config, *args, "--json")
    assert code == 0, err
    return json.loads(out)  # the whole of stdout is one JSON document


@pytest.fixture(autouse=True)
def no_gateway_environment(monkeypatch):
    """Overrides in the caller's environment must not leak into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("GATEWAY_") and name != "GATEWAY_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def cfg(tmp_path, db_url) -> Path:
    """An initialised gateway's config file (database from `db_url`, Maildir under tmp)."""
    path = write_config(tmp_path / "site", db_url, outbound={"maildir": "var/outbox"})
    assert main(["--config", str(path), "init"]) == 0
    return path


# Set-up ------------------------------------------------------------------------------------


def test_init_creates_database_and_maildir(tmp_path, capsys):
    path = write_config(tmp_path / "site", "sqlite:///var/gateway.db")
    code, out, _ = run_cli(capsys, path, "init")
    assert code == 0
    assert (tmp_path / "site/var/gateway.db").is_file()
    assert (tmp_path / "site/var/outbox/new").is_dir()
    assert str(tmp_path / "site/var/gateway.db") in out
    assert run_cli(capsys, path, "init")[0] == 0  # running it again is harmless


def test_init_on_both_databases_gives_empty_lists(cfg, capsys):
    assert run_json(capsys, cfg, "tickets", "list") == []
    assert run_json(capsys, cfg, "outbox", "list") == []
    code, out, _ = run_cli(capsys, cfg, "tickets", "list")
    assert code == 0 and out.strip() == "(none)"


def test_departments_and_staff(cfg, capsys):
    assert run_cli(capsys, cfg, "departments", "add", "Billing")[0] == 0
    code, _, err = run_cli(capsys, cfg, "departments", "add", "Billing")
    assert code == 1 and "already exists" in err
    assert [d["name"] for d in run_json(capsys, cfg, "departments", "list")] == ["Billing"]

    code, _, _ = run_cli(
        capsys, cfg, "staff", "add", "Bob@Support.Example", "--name", "Bob", "--department",
        "Billing", "--manager",
    )  # fmt: skip
    assert code == 0
    code, _, _ = run_cli(capsys, cfg, "staff", "add", "eve@support.example", "--name", "Eve")
    assert code == 0
    staff = {s["email"]: s for s in run_json(capsys, cfg, "staff", "list")}
    assert staff["bob@support.example"]["role"] == "manager"
    assert staff["bob@support.example"]["department_id"] is not None
    assert staff["eve@support.example"]["role"] == "agent"


def test_staff_add_refuses_unknown_department_and_duplicates(cfg, capsys):
    code, _, err = run_cli(
        capsys, cfg, "staff", "add", "bob@support.example", "--name", "Bob", "--department", "Nope"
    )
    assert code == 1 and "no department named 'Nope'" in err
    assert run_json(capsys, cfg, "staff", "list") == []  # nothing half-added

    assert run_cli(capsys, cfg, "staff", "add", "bob@support.example", "--name", "Bob")[0] == 0
    code, _, err = run_cli(capsys, cfg, "staff", "add", "BOB@support.example", "--name", "B")
    assert code == 1 and "already exists" in err
    assert len(run_json(capsys, cfg, "staff", "list")) == 1


def test_names_with_line_breaks_and_bad_addresses_are_refused_where_typed(cfg, capsys):
    """A name goes into mail headers: a line break in it is refused at the command line
    (exit 2, a sentence saying why), as the contacts importer refuses it in a CSV row."""
    for args, why in (
        (("departments", "add", "Bil\nling"), "line break"),
        (("staff", "add", "eve@support.example", "--name", "Eve\r\nBcc: x@evil.example"),
         "line break"),
        (("staff", "add", "not an address", "--name", "Eve"), "not an e-mail address"),
        (("accounts", "add", "Acme\u2028Other"), "line break"),
        (("privacy", "correct", "alice@customer.example", "--name", "A\rB"), "line break"),
    ):  # fmt: skip
        with pytest.raises(SystemExit) as exited:
            main(["--config", str(cfg), *args])
        assert exited.value.code == 2 and why in capsys.readouterr().err, args
    assert run_json(capsys, cfg, "staff", "list") == []
    assert run_json(capsys, cfg, "departments", "list") == []


def test_contacts_import_and_list(cfg, tmp_path, capsys):
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(
        "email,name,account,role,language\n"
        "alice@customer.example,Alice,Acme,owner,en\n"
        "claire@client.example,Claire,Client SA,user,fr\n",
        encoding="utf-8",
    )
    code, out, _ = run_cli(capsys, cfg, "contacts", "import", str(csv_file))
    assert code == 0 and "imported 2 contacts (2 new, 0 updated)" in out
    contacts = run_json(capsys, cfg, "contacts", "list")
    assert [(c["email"], c["account"], c["language"]) for c in contacts] == [
        ("alice@customer.example", "Acme", "en"),
        ("claire@client.example", "Client SA", "fr"),
    ]


# Looking at what the gateway recorded ------------------------------------------------------


def test_tickets_list_and_show(gateway, tmp_path, capsys):
    cfg = cli_config(tmp_path, gateway)
    add_contact(gateway.db, "alice@customer.example", name="Alice")
    gateway.send(mail(subject="Site down", body="My site is down.\nSince 9:00."))
    gateway.settle()

    [row] = run_json(capsys, cfg, "tickets", "list")
    number = row["number"]
    assert (row["status"], row["requester"], row["subject"]) == (
        "new", "alice@customer.example", "Site down",
    )  # fmt: skip
    code, out, _ = run_cli(capsys, cfg, "tickets", "list")
    assert code == 0 and "NUMBER" in out.splitlines()[0] and "Site down" in out

    document = run_json(capsys, cfg, "tickets", "show", str(number))
    assert document["number"] == number and document["requester"] == "alice@customer.example"
    [message] = document["messages"]
    assert message["body"] == "My site is down.\nSince 9:00."
    assert message["direction"] == "in"
    assert "ticket-opened" in [e["kind"] for e in document["events"]]
    [confirmation] = document["mail"]  # what left for whom, and whether it arrived
    assert (confirmation["kind"], confirmation["to"], confirmation["status"]) == (
        "confirmation", ["alice@customer.example"], "sent",
    )  # fmt: skip

    code, out, _ = run_cli(capsys, cfg, "tickets", "show", str(number))
    assert code == 0
    assert out.startswith(f"[VB #{number}] Site down")
    assert "   Since 9:00." in out
    assert f"confirmation to alice@customer.example - delivered {confirmation['sent_at']}" in out

    code, out, err = run_cli(capsys, cfg, "tickets", "show", "999")
    assert code == 1 and out == "" and "no ticket #999" in err


def test_tickets_list_filters_by_status(gateway, tmp_path, capsys):
    cfg = cli_config(tmp_path, gateway)
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail())
    gateway.settle()
    assert len(run_json(capsys, cfg, "tickets", "list", "--status", "new")) == 1
    assert run_json(capsys, cfg, "tickets", "list", "--status", "closed") == []


def test_tickets_list_gives_a_customers_history(gateway, tmp_path, capsys):
    cfg = cli_config(tmp_path, gateway)
    add_contact(gateway.db, "alice@customer.example", account="Acme")
    add_contact(gateway.db, "bob@customer.example", account="Acme")
    add_contact(gateway.db, "zed@other.example", account="Other Co")
    for sender, subject in [
        ("alice@customer.example", "Site down"),
        ("bob@customer.example", "Mail down"),
        ("zed@other.example", "DNS"),
        ("alice@customer.example", "Backups"),
    ]:
        gateway.send(mail(sender=sender, subject=subject, body=f"About: {subject}."))
    gateway.settle()

    def subjects(*options):
        return [t["subject"] for t in run_json(capsys, cfg, "tickets", "list", *options)]

    assert subjects("--requester", "Alice@Customer.example") == ["Backups", "Site down"]
    assert subjects("--account", "Acme") == ["Backups", "Mail down", "Site down"]
    assert subjects("--requester", "nobody@customer.example") == []
    code, _, err = run_cli(capsys, cfg, "tickets", "list", "--account", "Nope")
    assert code == 1 and "no account named 'Nope'" in err


def test_held_list_shows_unknown_senders_mail(gateway, tmp_path, capsys):
    cfg = cli_config(tmp_path, gateway)
    gateway.send(mail(sender="stranger@nowhere.example", subject="Verify your account"))
    gateway.settle()
    assert run_json(capsys, cfg, "tickets", "list") == []
    [held] = run_json(capsys, cfg, "held", "list")
    assert held["sender"] == "stranger@nowhere.example"
    assert held["reason"] == "unknown-sender"
    code, out, _ = run_cli(capsys, cfg, "held", "list")
    assert code == 0 and "stranger@nowhere.example" in out


def test_inbound_list_and_retry_after_a_failure(cfg, tmp_path, clock, capsys):
    """A mail whose processing fails is parked with its error, then replayed by `retry`."""
    config = config_module.load(cfg, environ={})
    broken = Gateway(config, clock=clock, templates_dir=tmp_path / "no-templates")
    add_contact(broken.db, "alice@customer.example")
    raw = mail(subject="Lost?").as_bytes(policy=policy.SMTP)
    envelope = Envelope("alice@customer.example", ("support@support.example",))
    intake.accept(broken.db, [intake.RawMail(raw, envelope)], clock(), "support.example")
    [pending] = run_json(capsys, cfg, "inbound", "list", "--status", "pending")
    assert pending["mail_from"] == "alice@customer.example"

    assert broken.processor.run_once() == (1, 0)
    broken.db.dispose()
    [failed] = run_json(capsys, cfg, "inbound", "list", "--status", "failed")
    assert failed["id"] == pending["id"] and "confirmation" in failed["error"]
    assert run_json(capsys, cfg, "inbound", "list", "--status", "pending") == []
    assert run_json(capsys, cfg, "tickets", "list") == []  # the failed step left nothing behind
    code, out, _ = run_cli(capsys, cfg, "inbound", "list")
    assert code == 0 and "failed" in out

    code, out, _ = run_cli(capsys, cfg, "inbound", "retry")
    assert code == 0 and "1 message(s) put back" in out
    [again] = run_json(capsys, cfg, "inbound", "list", "--status", "pending")
    assert again["error"] is None

    fixed = Gateway(config, clock=clock)
    assert fixed.processor.run_once() == (1, 1)
    fixed.db.dispose()
    assert [r["status"] for r in run_json(capsys, cfg, "inbound", "list")] == ["done"]
    assert [t["subject"] for t in run_json(capsys, cfg, "tickets", "list")] == ["Lost?"]
    [queued] = run_json(capsys, cfg, "outbox", "list")
    assert (queued["kind"], queued["status"], queued["to"]) == (
        "confirmation", "pending", "alice@customer.example",
    )  # fmt: skip


def test_inbound_retry_of_chosen_ids_only(cfg, clock, capsys):
    config = config_module.load(cfg, environ={})
    gw = Gateway(config, clock=clock)
    raws = [mail(subject=s).as_bytes(policy=policy.SMTP) for s in ("one", "two")]
    envelope = Envelope("x@customer.example", ("support@support.example",))
    accepted = intake.accept(
        gw.db, [intake.RawMail(r, envelope) for r in raws], clock(), "support.example"
    )
    with gw.db.write() as session:
        from gateway.store.tables import Inbound

        for item in accepted:
            row = session.get(Inbound, item.inbound_id)
            row.status, row.error = "failed", "simulated crash"
    gw.db.dispose()
    first = accepted[0].inbound_id
    code, out, _ = run_cli(capsys, cfg, "inbound", "retry", str(first))
    assert code == 0 and "1 message(s)" in out
    statuses = {r["id"]: r["status"] for r in run_json(capsys, cfg, "inbound", "list")}
    assert statuses == {first: "pending", accepted[1].inbound_id: "failed"}


# Configuration errors ----------------------------------------------------------------------


def test_config_is_a_global_option_only_before_the_command(cfg, capsys):
    assert main(["--config", str(cfg), "tickets", "list", "--json"]) == 0
    with pytest.raises(SystemExit) as exit_info:
        main(["tickets", "list", "--config", str(cfg)])
    assert exit_info.value.code != 0


@pytest.mark.parametrize(
    ("sections", "key"),
    [
        ({"smtp": {"port": "twenty-five"}}, "smtp.port"),
        ({"smtp": {"prot": 25}}, "smtp.prot"),
        ({"outbound": {"mode": "carrier-pigeon"}}, "outbound.mode"),
        ({"company": {"timezone": "Mars/Olympus"}}, "company.timezone"),
        ({"databse": {"url": "sqlite:///x.db"}}, "databse"),
    ],
)
def test_bad_configuration_stops_with_one_line_naming_the_key(tmp_path, capsys, sections, key):
    path = write_config(tmp_path, **sections)
    code, out, err = run_cli(capsys, path, "tickets", "list")
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert key in err and err.startswith("gateway: configuration error")


def test_bad_environment_override_names_the_key(cfg, capsys, monkeypatch):
    monkeypatch.setenv("GATEWAY_SMTP_PORT", "lots")
    code, _, err = run_cli(capsys, cfg, "tickets", "list")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "smtp.port" in err


def test_missing_config_file_is_one_clear_line(tmp_path, capsys):
    code, out, err = run_cli(capsys, tmp_path / "nowhere.toml", "init")
    assert code != 0 and out == ""
    assert err.strip().splitlines() == [
        f"gateway: configuration error: config file not found: {tmp_path / 'nowhere.toml'}"
    ]
    assert not (tmp_path / "var").exists()  # nothing was created on the way out


@pytest.mark.parametrize("content", [b"[smtp\nport = 1\n", b"\xff\xfe[smtp]\n", None])
def test_unreadable_config_file_is_one_clear_line(tmp_path, capsys, content):
    path = tmp_path / "config.toml"
    if content is None:
        path.mkdir()  # a folder where a file should be
    else:
        path.write_bytes(content)
    code, _, err = run_cli(capsys, path, "tickets", "list")
    assert code != 0
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("gateway: configuration error") and str(path) in err
