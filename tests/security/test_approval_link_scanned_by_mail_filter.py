"""Attack (or accident): a mail security scanner opens the approval link. A GET of the page
only shows the question; the answer is recorded by the confirm button's POST alone."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from trustkit import ALICE, approvals, ask_permission, make_reseller, request_mail
from trustkit import open_ticket as open_alice_ticket


@pytest.fixture
def desk(verifying):
    make_reseller(verifying)
    open_alice_ticket(verifying)
    ask_permission(verifying)
    return verifying


def page(gw, token: str, method: str = "GET") -> tuple[int, str]:
    url = f"http://127.0.0.1:{gw.gw.web.port}/approval/{token}"
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_get_shows_post_records(desk):
    text = request_mail(desk, ALICE).text()
    token = re.search(r"Approve: \S+/approval/(\S+)", text).group(1)
    status, html = page(desk, token)
    assert status == 200 and '<form method="post">' in html
    assert [a.status for a in approvals(desk)] == ["pending"]  # the GET recorded nothing
    status, _ = page(desk, token, "POST")
    assert status == 200
    [row] = approvals(desk)
    assert row.status == "approved"
    assert json.loads(row.evidence_detail)["remote"] == "127.0.0.1"  # where the answer came from
    assert page(desk, token)[0] == 409  # already answered
    deny = re.search(r"Deny: +\S+/approval/(\S+)", text).group(1)
    status, html = page(desk, deny, "POST")  # too late: said in both languages
    assert status == 403 and [a.status for a in approvals(desk)] == ["approved"]
    assert "Your answer was not recorded: this request was already answered (approved)." in html
    assert "cette demande a déjà reçu une réponse (accord)." in html


def test_an_answer_on_the_page_is_confirmed_in_writing_at_once(desk):
    text = request_mail(desk, ALICE).text()
    token = re.search(r"Approve: \S+/approval/(\S+)", text).group(1)
    assert page(desk, token, "POST")[0] == 200
    # Nothing else wakes the delivery here: the page does, well before its sweep (30 s).
    recorded = ("Your answer is recorded: approved", "Votre réponse est enregistrée : accord")
    desk.wait_for(lambda: any(any(r in m.message["Subject"] for r in recorded)
                              for m in desk.sink.to(ALICE)), timeout=10)  # fmt: skip


def test_tampered_link_page_is_refused(desk):
    text = request_mail(desk, ALICE).text()
    token = re.search(r"Approve: \S+/approval/(\S+)", text).group(1)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert page(desk, forged)[0] == 403
    assert page(desk, forged, "POST")[0] == 403
    assert [a.status for a in approvals(desk)] == ["pending"]
