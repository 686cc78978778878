"""Ratings of staff replies: links in every relayed reply, the web page (GET shows, POST records,
bad tokens get a 4xx page), one rating per reply and contact, the satisfaction request after
resolution, and rating by mail with a single digit."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from test_staff_flow import AUTHSERV, add_staff, last, open_ticket, staff_mail, ticket

from gateway.core import rating_token
from gateway.store.tables import Event, Message, Rating

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/rate/([A-Za-z0-9_.-]+))\?score=(\d)")


@pytest.fixture
def desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"}
    )
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_contact(gw.db, "ops@customer.example", name="Ops", account="Alice Co", lang="fr")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    return gw


def answer(gw, body="Your site is back.", extra=""):
    """A ticket answered by staff; returns (ticket, the relayed mail to Alice)."""
    t = open_ticket(gw)
    gw.send(staff_mail(last(gw, "agent@support.example"), extra + body))
    gw.settle()
    return t, last(gw, "alice@customer.example")


def links(received) -> dict[int, str]:
    return {int(score): f"{url}?score={score}" for url, _, score in LINK.findall(received.text())}


def fetch(url: str, form: dict | None = None, method: str | None = None):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def ratings(gw) -> list[Rating]:
    with gw.db.read() as session:
        return list(session.exec(select(Rating).order_by(Rating.id)))


def test_relayed_reply_ends_with_five_signed_links(desk):
    _, relayed = answer(desk)
    found = links(relayed)
    assert sorted(found) == [1, 2, 3, 4, 5]
    assert len({LINK.search(url).group(2) for url in found.values()}) == 1  # one token per copy
    html = relayed.message.get_body(preferencelist=("html",)).get_content()
    assert html.count("/rate/") == 5 and "Rate it from 1 (poor) to 5 (excellent)" in html
    assert relayed.text().index("Your site is back.") < relayed.text().index("/rate/")


def test_get_shows_the_choice_and_records_nothing_post_records(desk):
    t, relayed = answer(desk)
    url = links(relayed)[4]
    status, page, headers = fetch(url)
    assert status == 200
    assert re.search(r'value="4" checked', page) and 'lang="en"' in page
    assert "Sam Agent" in page and f"[VB #{t.id}]" in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert not re.search(r"(src|href)=\"?https?:", page)  # nothing loaded from elsewhere
    assert fetch(url, method="HEAD")[0] == 200
    assert ratings(desk) == []  # a GET (a mail scanner) records nothing
    status, page, _ = fetch(url, {"score": "4", "comment": "Quick, thanks"})
    assert status == 200 and "Your rating (4/5) is recorded" in page
    status, _, _ = fetch(url, {"score": "2", "comment": "On second thought"})
    assert status == 200
    [rating] = ratings(desk)  # the last one wins
    assert (rating.score, rating.comment, rating.source) == (2, "On second thought", "web")
    with desk.db.read() as session:
        reply = session.get(Message, rating.message_id)
        kinds = [e.kind for e in session.exec(select(Event).where(Event.ticket_id == t.id))]
    assert reply.author_staff_id == rating.staff_id and reply.visibility == "public"
    assert kinds.count("reply-rated") == 2
    assert fetch(url, {"score": "9"})[0] == 400
    assert len(ratings(desk)) == 1


def test_each_recipient_rates_with_their_own_link_in_their_language(desk):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"),
                         "/cc add ops@customer.example\n\nDone."))  # fmt: skip
    desk.settle()
    alice, ops = (
        links(last(desk, "alice@customer.example")),
        links(last(desk, "ops@customer.example")),
    )
    assert alice[5] != ops[5]
    assert "Cette réponse vous a-t-elle aidé" in last(desk, "ops@customer.example").text()
    status, page, _ = fetch(ops[5])
    assert status == 200 and 'lang="fr"' in page and "Confirmer ma note" in page
    fetch(alice[5], {"score": "5"})
    fetch(ops[3], {"score": "3"})
    assert sorted(r.score for r in ratings(desk)) == [3, 5]
    assert ticket(desk, t.id).status == "open"


def test_bad_tokens_get_a_plain_error_page(desk, clock):
    _, relayed = answer(desk)
    url = links(relayed)[5]
    base, token = url.split("?")[0].rsplit("/", 1)
    body, mac = token.split(".")
    reply_id, contact_id, expires = rating_token._decode(body).decode().split(".")
    moved = rating_token._encode(f"{int(reply_id) + 1}.{contact_id}.{expires}".encode())
    cases = {
        f"{base}/{body}.{mac[:-2]}AA": 403,  # tampered signature
        f"{base}/{moved}.{mac}": 403,  # moved to another reply
        f"{base}/not-a-token": 400,
        url.replace("/rate/", "/nothing/"): 404,
    }
    for bad, code in cases.items():
        for form in (None, {"score": "5"}):
            status, page, _ = fetch(bad, form)
            assert status == code, bad
            assert "<form" not in page and "does not work" in page
    clock.advance(days=31)
    status, page, _ = fetch(url, {"score": "5"})
    assert status == 410 and "expired" in page
    assert ratings(desk) == []


def test_satisfaction_request_then_rating_by_mail(desk, clock):
    t, _ = answer(desk, extra="/status resolved\n\n")
    clock.advance(hours=23, minutes=59)
    assert desk.gw.jobs.run("satisfaction") == 0
    clock.advance(minutes=1)
    assert desk.gw.jobs.run("satisfaction") == 1
    assert desk.gw.jobs.run("satisfaction") == 0
    desk.settle()
    request = last(desk, "alice@customer.example")
    assert "How satisfied are you" in request.text() and sorted(links(request)) == [1, 2, 3, 4, 5]
    staff_before = len(desk.sink.to("agent@support.example"))
    reply = mail(subject="Re: " + request.message["Subject"], to=request.message["Reply-To"],
                 body="4\n\nOn Tue, Example Hosting wrote:\n> How satisfied are you?",
                 In_Reply_To=request.message["Message-ID"])  # fmt: skip
    desk.send(reply)
    desk.settle()
    [rating] = ratings(desk)
    assert (rating.score, rating.source, rating.ticket_id) == (4, "mail", t.id)
    assert ticket(desk, t.id).status == "resolved"  # a rating does not reopen
    assert len(desk.sink.to("agent@support.example")) == staff_before
    # more than a digit is a follow-up as usual, and reopens
    again = mail(
        subject=reply["Subject"], to=request.message["Reply-To"],
        body="4 but the site is down again", In_Reply_To=request.message["Message-ID"],
    )  # fmt: skip
    desk.send(again)
    desk.settle()
    assert ticket(desk, t.id).status == "open" and len(ratings(desk)) == 1


def test_no_satisfaction_request_when_a_reply_was_rated(desk, clock):
    _, relayed = answer(desk, extra="/status resolved\n\n")
    fetch(links(relayed)[5], {"score": "5"})
    clock.advance(days=2)
    assert desk.gw.jobs.run("satisfaction") == 0
