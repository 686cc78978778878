"""Attack: a reseller's `user` (verified, and a contact of the reseller) answers APPROVE to a
permission request forwarded to them; and an owner answers from a domain whose mail cannot
be verified. Neither counts: nothing changes, the sender is told why, staff are notified."""

from __future__ import annotations

import pytest
from conftest import add_contact
from trustkit import AGENT, RUTH, answer, approvals, ask_permission, events, held, make_reseller
from trustkit import open_ticket as open_alice_ticket


@pytest.fixture
def desk(verifying):
    make_reseller(verifying)
    open_alice_ticket(verifying)
    ask_permission(verifying)
    return verifying


def test_reseller_user_approval_changes_nothing(desk):
    answer(desk, RUTH, "APPROVE")
    [row] = approvals(desk)
    assert row.status == "pending" and row.decided_by == ""
    [refused] = events(desk, "permission-answer-refused")
    assert "your role (user) does not allow this" in refused.detail
    assert held(desk)[-1].reason == "approval-not-counted"
    told = desk.sink.to(RUTH)[-1]
    assert "was not counted" in told.text() and "role (user)" in told.text()
    staff = desk.sink.to(AGENT)[-1]
    assert "Permission answer refused" in staff.text() and RUTH in staff.text()


def test_unverified_owner_approval_changes_nothing(desk):
    add_contact(desk.db, "olga@nodmarc.example", account="Alice Co", role="owner")
    answer(desk, "olga@nodmarc.example", "APPROVE")
    assert approvals(desk)[0].status == "pending"
    [refused] = events(desk, "permission-answer-refused")
    assert "could not be verified" in refused.detail
    assert "could not be verified" in desk.sink.to("olga@nodmarc.example")[-1].text()
