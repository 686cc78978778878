"""Accounts, resellers and roles: the CLI that sets them up, who may join which ticket, who
may copy whom, and the verdict staff see on every message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from trustkit import (
    AGENT,
    ALICE,
    COMPANY,
    INTERN,
    OPS,
    RITA,
    RUTH,
    events,
    make_reseller,
    messages,
    open_ticket,
    send,
    signed,
    staff_reply,
    start_verifying,
)

from gateway.core import permissions
from gateway.store.tables import Ticket


def cli(config_dir, db_url, *args, check=True) -> subprocess.CompletedProcess:
    config = config_dir / "cli.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), *args],
        capture_output=True, text=True, env=env, timeout=60, check=check,
    )  # fmt: skip


def test_accounts_add_and_show(tmp_path, db_url):
    assert cli(tmp_path, db_url, "init").returncode == 0
    assert "account Hostco added" in cli(tmp_path, db_url, "accounts", "add", "Hostco").stdout
    added = cli(tmp_path, db_url, "accounts", "add", "Shop", "--reseller", "Hostco")
    assert "client of Hostco" in added.stdout
    missing = cli(tmp_path, db_url, "accounts", "add", "X", "--reseller", "Nope", check=False)
    assert missing.returncode == 1 and "no account named 'Nope'" in missing.stderr
    nested = cli(tmp_path, db_url, "accounts", "add", "Y", "--reseller", "Shop", check=False)
    assert nested.returncode == 1 and "one level" in nested.stderr
    csv = tmp_path / "contacts.csv"
    csv.write_text(
        "email,name,account,role,language,reseller\n"
        "sam@shop.example,Sam,Shop,owner,en,Hostco\n"
        "ula@shop.example,Ula,Shop,user,fr,Hostco\n"
    )
    cli(tmp_path, db_url, "contacts", "import", str(csv))
    shown = cli(tmp_path, db_url, "accounts", "show", "Shop").stdout
    assert "account Shop (client of Hostco)" in shown
    assert shown.index("owner  sam@shop.example") < shown.index("user   ula@shop.example")
    owner_line, user_line = shown.splitlines()[1:3]
    assert "approve" in owner_line and "approve" not in user_line
    assert "clients: Shop" in cli(tmp_path, db_url, "accounts", "show", "Hostco").stdout


@pytest.fixture
def desk(start_gateway):
    gw = start_verifying(start_gateway)
    make_reseller(gw)
    return gw


@pytest.mark.parametrize(
    "who, joins", [(OPS, True), (RITA, True), (INTERN, False), (RUTH, False)]
)  # admin, reseller owner: yes; users not in copy: no
def test_who_joins_a_ticket_by_its_tag(desk, who, joins):
    t = open_ticket(desk)
    send(desk, mail(sender=who, subject=f"Re: [VB #{t.id}] Site down", body="me too"), who)
    appended = [m.author_email for m in messages(desk, t.id)][1:] == [who]
    assert appended is joins
    with desk.db.read() as session:
        count = len(session.exec(select(Ticket)).all())
    assert count == (1 if joins else 2)  # otherwise a ticket of their own


def test_a_user_in_copy_may_reply(desk):
    t = open_ticket(desk)
    reply = staff_reply(desk, f"/cc add {RUTH}\nAdded our reseller's colleague.")
    send(desk, signed(reply, COMPANY, "company"), mail_from=AGENT)
    assert "added to copy" in desk.sink.to(AGENT)[-1].text()
    assert "Added our reseller's colleague." in desk.sink.to(RUTH)[-1].text()
    send(desk, mail(sender=RUTH, subject=f"Re: [VB #{t.id}] Site down", body="thanks"), RUTH)
    assert messages(desk, t.id)[-1].author_email == RUTH


def test_staff_cannot_copy_a_contact_of_another_account(desk):
    add_contact(desk.db, "zed@customer.example", account="Zed Co")
    open_ticket(desk)
    reply = staff_reply(desk, "/cc add zed@customer.example\nHello.")
    send(desk, signed(reply, COMPANY, "company"), mail_from=AGENT)
    assert "not a contact of this ticket's customer account" in desk.sink.to(AGENT)[-1].text()


def test_a_verified_customer_copies_a_colleague_an_unverified_one_cannot(desk):
    send(desk, mail(subject="Site down", Cc=f"Ops <{OPS}>, stranger@evil.example"), ALICE)
    [added] = events(desk, "cc-added")
    assert OPS in added.detail and "stranger" not in added.detail
    add_contact(desk.db, "eve@nodmarc.example", account="Eve Co")
    add_contact(desk.db, "eric@nodmarc.example", account="Eve Co")
    message = mail(sender="eve@nodmarc.example", subject="Hi", Cc="eric@nodmarc.example")
    send(desk, message, "eve@nodmarc.example")
    [refused] = events(desk, "cc-add-refused")
    assert "eric@nodmarc.example" in refused.detail and "could not be verified" in refused.detail


def test_an_address_of_the_gateways_own_domain_is_never_a_customers_copy(desk):
    # Registered as a contact by mistake: mail to it comes back to the gateway, so copying it
    # on the ticket would loop every reply. Only the colleague is added.
    add_contact(desk.db, "billing@support.example", account="Alice Co")
    cc = f"Ops <{OPS}>, billing@support.example"
    send(desk, mail(subject="Site down", Cc=cc), ALICE)
    [added] = events(desk, "cc-added")
    assert OPS in added.detail and "support.example" not in added.detail
    assert events(desk, "cc-add-refused") == []


def test_the_verdict_is_shown_to_staff_and_in_tickets_show(desk, tmp_path):
    t = open_ticket(desk)
    reply = staff_reply(desk, "/show")
    send(desk, signed(reply, COMPANY, "company"), mail_from=AGENT)
    [whole] = [m.text() for m in desk.sink.to(AGENT) if "The whole ticket" in m.text()]
    assert "sender pass (dmarc=pass for customer.example" in whole
    config = tmp_path / "show.toml"
    config.write_text(f'[database]\nurl = "{desk.config.database.url}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    shown = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), "tickets", "show",
         str(t.id)], capture_output=True, text=True, env=env, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "verdict: pass (dmarc=pass for customer.example" in shown


def test_the_permission_table_is_what_the_readme_promises():
    rows = {row[0]: row[1:] for row in permissions.table_rows()}
    assert rows["approve or deny a permission request"] == ("owner, admin", "owner, admin", "yes")
    assert rows["add a contact in copy"][2] == "yes"
    assert rows["open a ticket"] == ("owner, admin, user", "-", "no")
    assert rows["reply to a ticket"][0] == "owner, admin, user (own or copied tickets)"
