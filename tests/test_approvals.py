"""Written permission, end to end: staff ask by mail, the customer's owners and admins (and
the reseller's) are asked, an approved answer is recorded with its proof, staff and customer
are told, and `gateway approvals show N` prints the proof."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys

import pytest
from conftest import add_contact
from trustkit import (
    AGENT,
    ALICE,
    INTERN,
    OPS,
    QUESTION,
    RITA,
    RUTH,
    answer,
    approvals,
    ask_permission,
    events,
    messages,
    open_ticket,
    request_mail,
    start_verifying,
)


@pytest.fixture
def desk(start_gateway):
    gw = start_verifying(start_gateway)
    from trustkit import make_reseller

    make_reseller(gw)
    return gw


def cli(gw, tmp_path, *args) -> str:
    config = tmp_path / "cli.toml"
    config.write_text(f'[database]\nurl = "{gw.config.database.url}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), *args],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout


def test_request_reaches_those_who_may_approve_and_says_how_to_answer(desk):
    t = open_ticket(desk)
    ask_permission(desk)
    for address in (ALICE, OPS, RITA):  # owner, admin, and the reseller's owner
        text = request_mail(desk, address).text()
        assert QUESTION in text and "Sam Agent" in text
        assert "APPROVE" in text and "DENY" in text
        assert re.search(r"Approve: http://127\.0\.0\.1:\d+/approval/\S+", text)
        assert re.search(r"Deny: +http://127\.0\.0\.1:\d+/approval/\S+", text)
    for address in (INTERN, RUTH):  # users are not asked
        assert not [m for m in desk.sink.to(address) if "permission" in m.message["Subject"]]
    request = request_mail(desk, ALICE).message
    [row] = approvals(desk)
    assert request["Reply-To"] == f"support+{row.token}@support.example"
    assert (row.ticket_id, row.status, row.question) == (t.id, "pending", QUESTION)
    receipt = desk.sink.to(AGENT)[-1].text()
    assert "permission request #1 sent to" in receipt and RITA in receipt


def test_verified_owner_approval_is_recorded_with_its_proof(desk, tmp_path):
    t = open_ticket(desk)
    ask_permission(desk)
    sent = answer(desk, ALICE, "APPROVE")
    [row] = approvals(desk)
    assert (row.status, row.decided_by, row.via) == ("approved", ALICE, "mail")
    assert row.evidence_sha256 == hashlib.sha256(sent).hexdigest()
    assert row.evidence_message_id in sent.decode()
    assert row.evidence_verdict.startswith("pass (dmarc=pass for customer.example")
    assert messages(desk, t.id)[-1].flags == "permission-answer"
    staff = desk.sink.to(AGENT)[-1].text()
    assert "Permission APPROVED" in staff and ALICE in staff
    confirmation = desk.sink.to(ALICE)[-1]
    assert "Your answer is recorded: approved" in confirmation.message["Subject"]
    assert QUESTION in confirmation.text()

    proof = cli(desk, tmp_path, "approvals", "show", str(t.id))
    assert "request #1: APPROVED" in proof and QUESTION in proof
    assert row.evidence_sha256 in proof and row.evidence_message_id in proof
    document = json.loads(cli(desk, tmp_path, "approvals", "show", str(t.id), "--json"))
    assert document["requests"][0]["evidence"]["sha256"] == row.evidence_sha256


def test_french_answer_and_reseller_owner_deny(desk):
    open_ticket(desk)
    ask_permission(desk)
    answer(desk, RITA, "Je refuse.", request_to=RITA)
    [row] = approvals(desk)
    assert (row.status, row.decided_by) == ("denied", RITA)
    assert "Permission DENIED" in desk.sink.to(AGENT)[-1].text()


def test_j_accepte_from_a_french_admin(desk):
    add_contact(desk.db, "claire@customer.example", account="Alice Co", role="admin", lang="fr")
    open_ticket(desk)
    ask_permission(desk)
    request = request_mail(desk, "claire@customer.example")
    assert "Votre autorisation est demandée" in request.message["Subject"]
    answer(desk, "claire@customer.example", "J’accepte", request_to="claire@customer.example")
    assert approvals(desk)[0].status == "approved"
    confirmation = desk.sink.to("claire@customer.example")[-1]
    assert "Votre réponse est enregistrée" in confirmation.message["Subject"]
    assert "(réponse par courriel)" in confirmation.text()


def test_a_french_contact_is_told_in_french_why_an_answer_did_not_count(desk):
    claire = "claire@customer.example"
    add_contact(desk.db, claire, account="Alice Co", role="admin", lang="fr")
    open_ticket(desk)
    ask_permission(desk)
    answer(desk, ALICE, "APPROVE")
    answer(desk, claire, "Je refuse.", request_to=claire)
    told = desk.sink.to(claire)[-1]
    assert "n'a pas été prise en compte" in told.message["Subject"]
    assert "pour cette raison : cette demande a déjà reçu une réponse (accord)." in told.text()
    assert "already" not in told.text()
    staff = desk.sink.to(AGENT)[-1].text()  # staff keep the record's English sentence
    assert "NOT counted: this request was already answered (approved)" in staff


def test_a_second_answer_changes_nothing(desk):
    open_ticket(desk)
    ask_permission(desk)
    answer(desk, ALICE, "APPROVE")
    answer(desk, OPS, "DENY", request_to=OPS)
    [row] = approvals(desk)
    assert (row.status, row.decided_by) == ("approved", ALICE)
    [refused] = events(desk, "permission-answer-refused")
    assert "already answered" in refused.detail
    assert "was not counted" in desk.sink.to(OPS)[-1].text()


def test_a_reply_without_an_answer_is_an_ordinary_follow_up(desk):
    t = open_ticket(desk)
    ask_permission(desk)
    answer(desk, ALICE, "What exactly will you change?")
    assert approvals(desk)[0].status == "pending"
    assert "What exactly will you change?" in messages(desk, t.id)[-1].body_text
    assert "Customer follow-up" in desk.sink.to(AGENT)[-1].text()


def test_ask_permission_needs_someone_who_may_approve(start_gateway):
    gw = start_verifying(start_gateway)
    add_contact(gw.db, "solo@customer.example", account="Solo Co", role="user")
    from conftest import mail
    from trustkit import send

    send(gw, mail(sender="solo@customer.example"), "solo@customer.example")
    ask_permission(gw)
    assert approvals(gw) == []
    assert "nobody may approve for this customer" in gw.sink.to(AGENT)[-1].text()
