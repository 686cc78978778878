"""Attack: a signed approval link that was altered (another decision, request or contact, or
a made-up signature), or used after the request expired; and a mailed answer after expiry.
None counts; the untouched link, in time, does."""

from __future__ import annotations

import re

import pytest
from trustkit import (
    ALICE,
    RUTH,
    answer,
    approvals,
    ask_permission,
    events,
    make_reseller,
    request_mail,
)
from trustkit import open_ticket as open_alice_ticket

from gateway.store import repo


@pytest.fixture
def desk(verifying):
    make_reseller(verifying)
    open_alice_ticket(verifying)
    ask_permission(verifying)
    return verifying


def links(gw, address=ALICE) -> dict[str, str]:
    text = request_mail(gw, address).text()
    approve = re.search(r"Approve: \S+/approval/(\S+)", text).group(1)
    deny = re.search(r"Deny: +\S+/approval/(\S+)", text).group(1)
    return {"approve": approve, "deny": deny}


def use(gw, token: str):
    return gw.gw.approvals.answer_by_link(gw.db, token, gw.gw.clock(), remote="127.0.0.1")


def _swap(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


def test_tampered_links_change_nothing(desk):
    deny = links(desk)["deny"]
    with desk.db.read() as session:
        ruth_id = str(repo.find_contact(session, RUTH).id)  # a user: never sent a link
    for forged in (
        _swap(deny, 2, "a"),  # deny turned into approve
        _swap(deny, 0, "2"),  # another request
        _swap(deny, 1, ruth_id),  # another contact
        _swap(deny, 4, "A" * 43),  # a made-up signature
        _swap(deny, 3, "9999999999"),  # a later expiry
        "garbage",
    ):
        outcome = use(desk, forged)
        assert not outcome.counted, forged
    assert approvals(desk)[0].status == "pending"
    assert len(events(desk, "approval-link-refused")) == 6
    assert use(desk, links(desk)["approve"]).counted  # the genuine link still works
    row = approvals(desk)[0]
    assert (row.status, row.via, row.decided_by) == ("approved", "link", ALICE)
    assert "signed link" in row.evidence_verdict


def test_expired_link_and_late_mail_change_nothing(desk, clock):
    genuine = links(desk)["approve"]
    clock.advance(days=7, seconds=1)
    outcome = use(desk, genuine)
    assert not outcome.counted and "expired" in outcome.detail
    answer(desk, ALICE, "APPROVE")
    assert approvals(desk)[0].status == "pending"
    [refused] = events(desk, "permission-answer-refused")
    assert "expired" in refused.detail
    assert "was not counted" in desk.sink.to(ALICE)[-1].text()
