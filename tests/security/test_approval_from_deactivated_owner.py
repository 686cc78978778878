"""Attack (or an old habit): an owner who has left the customer, deactivated by staff, still
holds the permission request mailed to them before, and answers it by mail or by its link.
Neither counts: the request stays pending, and a request asked after they left no longer
goes to them."""

from __future__ import annotations

import re

import pytest
from trustkit import (
    AGENT,
    ALICE,
    RITA,
    answer,
    approvals,
    ask_permission,
    events,
    held,
    make_reseller,
    request_mail,
)
from trustkit import open_ticket as open_alice_ticket

from gateway.store import directory

from .test_approval_link_scanned_by_mail_filter import page


@pytest.fixture
def desk(verifying):
    make_reseller(verifying)
    open_alice_ticket(verifying)
    ask_permission(verifying)
    with verifying.db.write() as session:
        directory.set_contact_active(session, ALICE, False)
    return verifying


def test_a_deactivated_owner_answering_by_mail_changes_nothing(desk):
    before = len(desk.sink.to(ALICE))
    answer(desk, ALICE, "APPROVE")
    assert [a.status for a in approvals(desk)] == ["pending"]
    assert held(desk)[-1].reason == "approval-not-counted"
    [refused] = events(desk, "permission-answer-refused")
    assert "no longer an active contact" in refused.detail
    staff = desk.sink.to(AGENT)[-1]
    assert "Permission answer refused" in staff.text() and ALICE in staff.text()
    assert len(desk.sink.to(ALICE)) == before  # the one who left is sent nothing


def test_a_deactivated_owner_answering_by_link_changes_nothing(desk):
    text = request_mail(desk, ALICE).text()
    token = re.search(r"Approve: \S+/approval/(\S+)", text).group(1)
    status, html = page(desk, token, "POST")
    assert status == 403 and "no longer an active contact" in html
    assert [a.status for a in approvals(desk)] == ["pending"]


def test_a_request_asked_after_they_left_goes_to_the_others_only(desk):
    before = len(desk.sink.to(ALICE))
    ask_permission(desk, "Restart the mail server tonight.")
    desk.settle()
    assert len(desk.sink.to(ALICE)) == before
    assert any("Restart the mail server" in m.text() for m in desk.sink.to(RITA))
