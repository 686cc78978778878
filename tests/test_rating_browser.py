"""The rating page in a real browser: headless Chromium opens the link from a relayed reply
caught by the SMTP sink, shows the linked score chosen, records nothing until the person clicks
the confirm button, then records that rating (with the comment they typed)."""

from __future__ import annotations

import re

import pytest
from chromium import Browser, binary, dump_dom
from sqlmodel import select
from test_rating_flow import answer, desk, links  # noqa: F401  (desk is a fixture)

from gateway.store.tables import Rating

pytestmark = pytest.mark.skipif(binary() is None, reason="chromium is not installed")


def stored(gw) -> list[Rating]:
    with gw.db.read() as session:
        return list(session.exec(select(Rating)))


@pytest.fixture
def browser(tmp_path):
    opened = Browser(str(tmp_path / "profile"))
    yield opened
    opened.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_scanner_opening_the_link_records_nothing(desk, tmp_path):  # noqa: F811
    _, relayed = answer(desk)
    dom = dump_dom(links(relayed)[2], str(tmp_path / "scanner"))
    assert re.search(r'<input type="radio" name="score" value="2" checked', dom)
    assert "Confirm my rating" in dom
    assert stored(desk) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_person_confirms_the_rating_in_the_browser(desk, browser):  # noqa: F811
    t, relayed = answer(desk)
    browser.open(links(relayed)[4])
    assert browser.evaluate("document.documentElement.lang") == "en"
    assert browser.evaluate("document.querySelector('input[name=score]:checked').value") == "4"
    assert browser.evaluate("document.querySelector('legend').textContent").startswith(
        "Your rating"
    )
    assert stored(desk) == []
    browser.click("input[name=score][value='5']")  # changes their mind
    browser.type_into("#comment", "Fixed in minutes, thank you!")
    browser.click("button[type=submit]")
    browser.wait_for("document.querySelector('h1') && document.querySelector('h1').textContent"
                     " === 'Thank you'")  # fmt: skip
    assert "(5/5) is recorded" in browser.evaluate("document.body.innerText")
    [rating] = stored(desk)
    assert (rating.score, rating.comment, rating.ticket_id) == (5, "Fixed in minutes, thank you!",
                                                                 t.id)  # fmt: skip
