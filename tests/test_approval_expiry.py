"""A permission request nobody answers in time is marked expired, once, and the staff on the
ticket and whoever asked are told at once; an answer after that still counts for nothing."""

from __future__ import annotations

import test_approvals
from test_cli import cli_config, run_cli
from trustkit import (
    AGENT,
    ALICE,
    QUESTION,
    answer,
    approvals,
    ask_permission,
    events,
    open_ticket,
)  # fmt: skip

desk = test_approvals.desk


def run(gw) -> int:
    done = gw.gw.jobs.run("approvals")
    gw.settle()
    return done


def expired_notices(gw) -> list:
    return [m for m in gw.sink.to(AGENT) if "expired without an answer" in m.text()]


def test_an_unanswered_request_expires_and_staff_are_told(desk, clock, tmp_path, capsys):
    t = open_ticket(desk)
    ask_permission(desk)
    clock.advance(days=6, hours=23)
    assert run(desk) == 0 and approvals(desk)[0].status == "pending"

    clock.advance(hours=1, seconds=1)
    assert run(desk) == 1
    [row] = approvals(desk)
    assert row.status == "expired" and row.decided_by == ""
    [notice] = expired_notices(desk)
    assert f"Permission request #{row.id} expired without an answer" in notice.text()
    assert QUESTION in notice.text() and notice.message["Subject"].startswith(f"[VB #{t.id}]")
    assert len(events(desk, "permission-expired")) == 1
    assert run(desk) == 0 and len(expired_notices(desk)) == 1  # once

    code, out, _ = run_cli(capsys, cli_config(tmp_path, desk), "approvals", "show", str(t.id))
    assert code == 0 and "expired" in out

    answer(desk, ALICE, "APPROVE")  # too late: refused as expired, not as answered
    assert approvals(desk)[0].status == "expired"
    [refused] = events(desk, "permission-answer-refused")
    assert "expired" in refused.detail


def test_an_answered_request_does_not_expire(desk, clock):
    open_ticket(desk)
    ask_permission(desk)
    answer(desk, ALICE, "APPROVE")
    clock.advance(days=8)
    assert run(desk) == 0
    assert [a.status for a in approvals(desk)] == ["approved"]
    assert not expired_notices(desk)


def test_a_late_second_answer_to_a_decided_request_says_it_was_answered(desk, clock):
    open_ticket(desk)
    ask_permission(desk)
    answer(desk, ALICE, "APPROVE")
    clock.advance(days=8)
    answer(desk, ALICE, "DENY")
    assert approvals(desk)[0].status == "approved"
    [refused] = events(desk, "permission-answer-refused")
    assert "already answered (approved)" in refused.detail
