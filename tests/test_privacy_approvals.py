"""Permission requests and a customer's rights: the export holds the requests on their tickets
with the proof of their own answers; erasure leaves no trace of their address or of the IP
address a link answer came from, while `gateway approvals show` still proves each decision."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile

import pytest
from conftest import mail
from privacy_scan import found, stored_bytes
from test_cli import cli_config, run_cli, run_json
from trustkit import (
    AGENT,
    ALICE,
    OPS,
    QUESTION,
    approvals,
    ask_permission,
    events,
    open_ticket,
    raw,
    send,
    start_verifying,
)

from gateway.store.sealing import ERASED_ADDRESS

IP = "203.0.113.77"  # RFC 5737 documentation range: appears nowhere else
OTHER_QUESTION = "Restart the mail server during the night (a few seconds offline)."


@pytest.fixture
def desk(start_gateway):
    return start_verifying(start_gateway)


def latest_request(gw, address: str):
    """The last permission request mailed to `address`."""
    return [m for m in gw.sink.to(address) if "permission is requested" in m.message["Subject"]][-1]


def answer_by_mail(gw, address: str, first_line: str) -> bytes:
    request = latest_request(gw, address).message
    data = raw(
        mail(sender=address, to=request["Reply-To"], subject="Re: " + request["Subject"],
             body=f"{first_line}\n\n> {QUESTION}\n", In_Reply_To=request["Message-ID"])
    )  # fmt: skip
    send(gw, data, mail_from=address, to=(request["Reply-To"],))
    return data


def use_link(gw, address: str, decision: str):
    """What the web endpoint does on the confirm button's POST, from the address `IP`."""
    text = latest_request(gw, address).text()
    token = re.search(rf"{decision}: +\S+/approval/(\S+)", text).group(1)
    outcome = gw.gw.approvals.answer_by_link(gw.db, token, gw.gw.clock(), remote=IP)
    gw.settle()
    return outcome, token


def three_answers(gw) -> dict:
    """Request 1 (ticket A) approved by Alice by mail, then her late deny link refused;
    request 2 (ticket B) approved by Alice by link; request 3 (ticket B) denied by Ops."""
    first = open_ticket(gw, subject="Site down")
    ask_permission(gw)
    sent = answer_by_mail(gw, ALICE, "APPROVE")
    assert not use_link(gw, ALICE, "Deny")[0].counted  # already answered
    second = open_ticket(gw, subject="Mail slow")
    ask_permission(gw)
    outcome, token = use_link(gw, ALICE, "Approve")
    assert outcome.counted
    ask_permission(gw, OTHER_QUESTION)
    answer_by_mail(gw, OPS, "DENY")
    assert [(a.ticket_id, a.status) for a in approvals(gw)] == [
        (first.id, "approved"), (second.id, "approved"), (second.id, "denied")
    ]  # fmt: skip
    return {"first": first.id, "second": second.id, "sent": sent, "token": token}


def export(capsys, cfg, tmp_path, address: str) -> tuple[dict, bytes]:
    path = tmp_path / "export.zip"
    code, _, err = run_cli(capsys, cfg, "privacy", "export", address, "--output", str(path))
    assert code == 0, err
    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    everything = b"".join(archive.read(n) for n in archive.namelist())
    return json.loads(archive.read("contact.json")), everything


def test_export_holds_the_requests_and_the_proof_of_the_contacts_own_answers(
    desk, tmp_path, capsys
):
    run = three_answers(desk)
    rows = approvals(desk)
    document, everything = export(capsys, cli_config(tmp_path, desk), tmp_path, ALICE)
    by_mail, by_link, by_ops = document["permission_requests"]
    assert (by_mail["request"], by_mail["ticket"]) == (rows[0].id, run["first"])
    assert (by_mail["question"], by_mail["status"], by_mail["via"]) == (
        QUESTION, "approved", "mail"
    )  # fmt: skip
    assert by_mail["answered_by"] == "you" and by_mail["decided_at"]
    assert by_mail["evidence"]["sha256"] == hashlib.sha256(run["sent"]).hexdigest()
    assert by_mail["evidence"]["message_id"] == rows[0].evidence_message_id
    assert by_mail["evidence"]["message_id"] in run["sent"].decode()
    assert by_mail["evidence"]["verdict"].startswith("pass (dmarc=pass")
    assert (by_link["ticket"], by_link["status"], by_link["via"]) == (
        run["second"], "approved", "link"
    )  # fmt: skip
    assert by_link["evidence"]["sha256"] == hashlib.sha256(run["token"].encode()).hexdigest()
    assert by_link["evidence"]["remote"] == IP
    # on her ticket but answered by a colleague: the outcome, not the colleague's proof
    assert (by_ops["question"], by_ops["status"], by_ops["answered_by"]) == (
        OTHER_QUESTION, "denied", "another contact"
    )  # fmt: skip
    assert "evidence" not in by_ops
    assert OPS.encode() not in everything and rows[2].evidence_sha256.encode() not in everything
    # a colleague's own export holds the request they answered, with their proof
    theirs, _ = export(capsys, cli_config(tmp_path, desk), tmp_path, OPS)
    [answered] = theirs["permission_requests"]
    assert answered["answered_by"] == "you"
    assert answered["evidence"]["sha256"] == rows[2].evidence_sha256


def test_erasure_keeps_the_proof_of_each_decision_but_not_who_or_from_where(desk, tmp_path, capsys):
    run = three_answers(desk)
    before = approvals(desk)
    assert found([ALICE, IP], stored_bytes(desk.db)) == [ALICE, IP]  # the scan sees them
    cfg = cli_config(tmp_path, desk)
    code, _, err = run_cli(capsys, cfg, "privacy", "erase", ALICE)
    assert code == 0, err
    assert found([ALICE, IP], stored_bytes(desk.db)) == []

    first = run_json(capsys, cfg, "approvals", "show", str(run["first"]))
    [request] = first["requests"]
    assert (request["status"], request["via"], request["question"]) == (
        "approved", "mail", QUESTION
    )  # fmt: skip
    assert request["decided_by"] == ERASED_ADDRESS
    assert request["decided_at"] and request["decided_at"] == str(before[0].decided_at)
    evidence = request["evidence"]
    assert evidence["sha256"] == hashlib.sha256(run["sent"]).hexdigest()
    assert evidence["message_id"] == before[0].evidence_message_id
    assert evidence["verdict"] == before[0].evidence_verdict
    [late] = first["refused_answers"]  # her refused link: the reason stays, not her address
    assert "already answered" in late["reason"] and ALICE not in json.dumps(late)

    second = run_json(capsys, cfg, "approvals", "show", str(run["second"]))
    by_link, by_ops = second["requests"]
    assert (by_link["status"], by_link["via"], by_link["decided_by"]) == (
        "approved", "link", ERASED_ADDRESS
    )  # fmt: skip
    token_sha256 = hashlib.sha256(run["token"].encode()).hexdigest()
    assert by_link["evidence"]["sha256"] == token_sha256
    assert by_link["evidence"]["detail"] == {"token_sha256": token_sha256}
    assert by_link["evidence"]["verdict"] == (
        f"pass (valid signed link mailed to {ERASED_ADDRESS})"
    )
    assert (by_ops["status"], by_ops["decided_by"]) == ("denied", OPS)  # a colleague's stays

    code, text, _ = run_cli(capsys, cfg, "approvals", "show", str(run["first"]))
    assert "request #1: APPROVED" in text and f"approved by {ERASED_ADDRESS}" in text
    assert evidence["sha256"] in text and QUESTION in text
    [asked, *_] = events(desk, "permission-requested")  # the audit log still says who asked
    assert asked.actor == AGENT and json.loads(asked.detail)["question"] == QUESTION
