"""`gateway contacts import FILE.csv`: every bad row reported by its line number, nothing
half-imported, re-imports update, and real-world files (BOM, quotes, accents) read right."""

from __future__ import annotations

import pytest
from sqlmodel import select
from test_cli import run_cli, run_json, write_config

from gateway.cli import main
from gateway.contacts_import import read_contacts
from gateway.store.db import Database
from gateway.store.tables import Account

HEADER = "email,name,account,role,language\n"


@pytest.fixture
def cfg(tmp_path, db_url):
    path = write_config(tmp_path / "site", db_url)
    assert main(["--config", str(path), "init"]) == 0
    return path


def import_csv(capsys, cfg, tmp_path, text: str | bytes):
    path = tmp_path / "contacts.csv"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return run_cli(capsys, cfg, "contacts", "import", str(path))


def contacts(capsys, cfg) -> dict[str, dict]:
    return {c["email"]: c for c in run_json(capsys, cfg, "contacts", "list")}


def accounts(db_url) -> dict[str, str | None]:
    """Each account's name with its reseller's name (None for a top-level account)."""
    db = Database(db_url)
    try:
        with db.read() as session:
            rows = list(session.exec(select(Account)))
            return {a.name: next((p.name for p in rows if p.id == a.parent_id), None) for a in rows}
    finally:
        db.dispose()


# Through the command, on both databases ---------------------------------------------------


def test_import_creates_accounts_and_contacts(cfg, tmp_path, capsys, db_url):
    code, out, _ = import_csv(
        capsys, cfg, tmp_path,
        HEADER + "Alice@Customer.Example,Alice,Acme,Owner,EN\n"
        "bob@customer.example,Bob,Acme,user,fr\n"
        "carol@client.example,Carol,Client SA,admin,en\n",
    )  # fmt: skip
    assert code == 0 and "imported 3 contacts (3 new, 0 updated)" in out
    found = contacts(capsys, cfg)
    assert found["alice@customer.example"] == {
        "email": "alice@customer.example", "name": "Alice", "account": "Acme",
        "role": "owner", "language": "en", "active": True,
    }  # fmt: skip
    assert found["bob@customer.example"]["language"] == "fr"
    assert set(accounts(db_url)) == {"Acme", "Client SA"}


def test_one_bad_row_imports_nothing_and_names_every_line(cfg, tmp_path, capsys, db_url):
    code, out, err = import_csv(
        capsys, cfg, tmp_path,
        HEADER + "alice@customer.example,Alice,Acme,owner,en\n"  # line 2: fine
        "not-an-address,Bob,Acme,user,en\n"  # line 3
        "carol@client.example,Carol,Client SA,boss,en\n"  # line 4
        "dan@client.example,Dan,Client SA,user,french\n"  # line 5
        "\n"  # line 6: blank lines are skipped but still counted
        "ALICE@customer.example,Alice again,Acme,owner,en\n"  # line 7
        "erin@client.example,Erin,,user,en\n",  # line 8
    )  # fmt: skip
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert lines[-1] == "nothing imported"
    assert any(line.endswith("line 3: invalid email address 'not-an-address'") for line in lines)
    assert any("line 4: role 'boss' is not one of owner, admin, user" in line for line in lines)
    assert any("line 5: language 'french' is not a two-letter code" in line for line in lines)
    assert any("line 7: alice@customer.example already appears on line 2" in line for line in lines)
    assert any("line 8: account is empty" in line for line in lines)
    assert not any("line 2:" in line for line in lines)
    assert run_json(capsys, cfg, "contacts", "list") == []
    assert accounts(db_url) == {}  # not even the accounts of the good rows


def test_missing_column_is_reported_on_the_header_line(cfg, tmp_path, capsys):
    code, _, err = import_csv(
        capsys, cfg, tmp_path, "email,name,account\nalice@customer.example,Alice,Acme\n"
    )
    assert code == 1
    assert "line 1: missing column(s): role, language" in err
    assert run_json(capsys, cfg, "contacts", "list") == []


def test_reimport_updates_instead_of_duplicating(cfg, tmp_path, capsys):
    first = HEADER + "alice@customer.example,Alice,Acme,user,en\n"
    assert import_csv(capsys, cfg, tmp_path, first)[0] == 0
    second = (
        HEADER + "ALICE@customer.example,Alice Martin,Acme Group,owner,fr\n"
        "bob@customer.example,Bob,Acme Group,user,en\n"
    )
    code, out, _ = import_csv(capsys, cfg, tmp_path, second)
    assert code == 0 and "(1 new, 1 updated)" in out
    found = contacts(capsys, cfg)
    assert sorted(found) == ["alice@customer.example", "bob@customer.example"]
    alice = found["alice@customer.example"]
    assert (alice["name"], alice["account"], alice["role"], alice["language"]) == (
        "Alice Martin", "Acme Group", "owner", "fr",
    )  # fmt: skip


def test_bom_quotes_commas_and_accents(cfg, tmp_path, capsys):
    text = (
        HEADER + '"chloe@client.example","Dupont, Chloé","Société Générale d\'Hébergement",'
        "owner,fr\n"
        'jo@client.example,"Jo ""The Fixer"" Ñúñez",Société Générale d\'Hébergement,user,en\n'
    )
    code, out, err = import_csv(capsys, cfg, tmp_path, "\ufeff".encode() + text.encode())
    assert code == 0, err
    found = contacts(capsys, cfg)
    assert found["chloe@client.example"]["name"] == "Dupont, Chloé"
    assert found["chloe@client.example"]["account"] == "Société Générale d'Hébergement"
    assert found["jo@client.example"]["name"] == 'Jo "The Fixer" Ñúñez'


def test_reseller_column_makes_the_account_a_client_of_the_reseller(cfg, tmp_path, capsys, db_url):
    code, _, err = import_csv(
        capsys, cfg, tmp_path,
        "email,name,account,role,language,reseller\n"
        "ann@webagency.example,Ann,Web Agency,owner,en,\n"
        "max@bakery.example,Max,Bakery,owner,fr,Web Agency\n",
    )  # fmt: skip
    assert code == 0, err
    assert accounts(db_url) == {"Web Agency": None, "Bakery": "Web Agency"}


def test_values_too_long_for_the_tables_are_refused_on_every_database(cfg, tmp_path, capsys):
    long_name = "N" * 201
    code, _, err = import_csv(
        capsys, cfg, tmp_path, HEADER + f"alice@customer.example,{long_name},Acme,owner,en\n"
    )
    assert code == 1 and "line 2: name is longer than 200 characters" in err
    assert run_json(capsys, cfg, "contacts", "list") == []


def test_a_file_that_is_not_utf8_is_refused(cfg, tmp_path, capsys):
    text = HEADER + "chloe@client.example,Chloé,Acme,owner,fr\n"
    code, _, err = import_csv(capsys, cfg, tmp_path, text.encode("latin-1"))
    assert code == 1 and "cannot read" in err and "utf-8" in err
    assert run_json(capsys, cfg, "contacts", "list") == []


# The reader alone ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("alice@customer.example,Alice,Acme,owner", "line 2: 4 fields, the header has 5"),
        (
            "alice@customer.example,Martin, Alice,Acme,owner,en",
            "line 2: 6 fields, the header has 5",
        ),
        ("alice@@customer.example,Alice,Acme,owner,en", "line 2: invalid email address"),
        ("alice@localhost,Alice,Acme,owner,en", "line 2: invalid email address"),
        ("Alice <alice@customer.example>,Alice,Acme,owner,en", "line 2: invalid email address"),
        ('alice@customer.example,"Alice\nSmith",Acme,owner,en', "name contains a line break"),
        ("alice@customer.example,Alice,Acme,superuser,en", "line 2: role 'superuser'"),
        ("alice@customer.example,Alice,Acme,owner,", "line 2: language ''"),
        (f"{'a' * 320}@customer.example,Alice,Acme,owner,en", "line 2: invalid email address"),
        (f"alice@customer.example,Alice,{'A' * 201},owner,en", "line 2: account is longer"),
    ],
)
def test_reader_reports_each_kind_of_bad_row(row, message):
    rows, errors = read_contacts(HEADER + row + "\n")
    assert rows == []
    assert any(message in error for error in errors), errors


def test_reader_accepts_columns_in_any_order_and_case():
    rows, errors = read_contacts(
        " Language , ROLE,Email,Account,Name\nfr,admin,claire@client.example,Client SA,Claire\n"
    )
    assert errors == []
    [row] = rows
    assert (row.email, row.name, row.account, row.role, row.language, row.line) == (
        "claire@client.example", "Claire", "Client SA", "admin", "fr", 2,
    )  # fmt: skip


def test_empty_file_is_missing_every_column():
    assert read_contacts("") == (
        [],
        ["line 1: missing column(s): email, name, account, role, language"],
    )


def test_header_only_file_imports_nothing_without_error(cfg, tmp_path, capsys):
    code, out, _ = import_csv(capsys, cfg, tmp_path, HEADER)
    assert code == 0 and "imported 0 contacts" in out
    assert run_json(capsys, cfg, "contacts", "list") == []
