"""Reply extraction over the fixture set: no case may lose the author's words, and the share
of exactly right cases stays above the floor measured when the set was built
(`scripts/measure-replies` prints it and lists the misses)."""

from __future__ import annotations

import time

import pytest
from reply_cases import load, run

from gateway.core.parse import parse
from gateway.core.quotes import REPLY_MARKER, extract, new_text

CASES = load()
FLOOR = 0.95  # measured: 89 of 89 exactly right; a margin for cases added later


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_no_case_loses_the_authors_words(case):
    (outcome,) = run([case])
    assert outcome.lost_lines == [], f"{case.name} ({outcome.got.strategy}):\n{outcome.got.text}"


def test_share_exactly_right_stays_above_the_floor():
    outcomes = run(CASES)
    misses = [o.case.name for o in outcomes if not o.exact]
    share = 1 - len(misses) / len(outcomes)
    assert share >= FLOOR, f"{share:.1%} exactly right; misses: {misses}"


def test_the_fixture_set_covers_each_client_family_and_language():
    names = " ".join(case.name for case in CASES)
    assert len(CASES) >= 40
    for family in ("gmail", "outlook", "owa", "apple", "thunderbird", "ios", "android", "yahoo"):
        assert family in names, family
    assert sum(case.name.startswith("inline-") for case in CASES) >= 5
    for language in ("en", "fr", "de", "es", "it", "nl"):
        assert f"-{language}" in names, language
    assert any(case.html and not case.text.startswith(case.html[:5]) for case in CASES)


def test_a_message_without_quotes_comes_back_whole():
    text = "Hello,\n\nThe printer on floor 2 is jammed again.\n\nThanks,\nAnn"
    assert new_text(text) == text
    assert extract(text).strategy == "none"


def test_nothing_written_above_a_quote_keeps_the_full_text():
    text = "On Tue, Mar 5, 2024 at 4:22 PM Support <support@example.com> wrote:\n> Resolved?"
    assert extract(text).text == text
    assert extract(text).strategy == "all-quoted"
    assert new_text("> only a quote") == "> only a quote"
    assert new_text("") == ""


def test_our_marker_cuts_even_in_unquoted_history():
    history = "From: Support\nSent: today\nTo: Ann\nSubject: [VB #9] Printer"
    text = f"Fine by me.\n\n{history}\n\n{REPLY_MARKER}\n\nOld text"
    assert extract(text).text == "Fine by me."
    assert extract(text).strategy == "marker"
    french_half_only = "Oui.\n\n> -- Répondez au-dessus de cette ligne --\n> Ancien texte"
    assert new_text(french_half_only) == "Oui."


def test_interleaved_answers_are_kept_and_the_trailing_quote_goes():
    text = "> Which browser?\nFirefox.\n> Which version?\n124.\n> Thanks,\n> Support"
    got = extract(text)
    assert got.text == "> Which browser?\nFirefox.\n> Which version?\n124."
    assert got.strategy == "inline"


def test_a_header_lookalike_in_the_authors_text_loses_nothing():
    text = "Hi,\n\nOn Monday the vendor wrote:\n\n> It renews itself.\n\nIt did not.\n\nNina"
    assert new_text(text) == text


def test_a_legal_footer_below_the_quote_goes_but_a_remark_below_it_stays():
    quote = "Fixed.\n\nOn Tue, Mar 5, 2024 at 4:22 PM Support <s@example.com> wrote:\n> Better?\n\n"
    footer = "This email is confidential and intended solely for the addressee. " * 2
    assert new_text(quote + footer) == "Fixed."
    remark = "PS: keep the password confidential."
    assert new_text(quote + remark).endswith(remark)


def test_html_containers_decide_when_the_text_part_is_silent():
    html = (
        "<div>Done, thanks.</div><div id='appendonsend'></div><hr>"
        "<div id='divRplyFwdMsg'><b>From:</b> Support</div><div>Old message</div>"
    )
    assert extract("", html).text == "Done, thanks."
    assert extract("", html).strategy == "html-container"


def test_a_signature_survives_parsing_and_is_removed():
    raw = (
        b"From: Bob <bob@example.com>\r\nTo: support@example.com\r\nSubject: Re: x\r\n"
        b"Message-ID: <2@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"It works now.\r\n\r\n-- \r\nBob Smith\r\nACME\r\n\r\n"
        b"On Tue, Mar 5, 2024 at 4:22 PM Support <support@example.com> wrote:\r\n> Better?\r\n"
    )
    parsed = parse(raw, "<2@example.com>")
    got = extract(parsed.text, parsed.html)
    assert (got.text, got.signature_removed) == ("It works now.", True)


def test_a_bare_double_dash_is_not_taken_for_a_signature():
    text = "Output:\n--\nstep 1 ok\nstep 2 failed\n--\nCan you help?"
    assert new_text(text) == text


def test_hostile_sizes_stay_fast():
    hostile = [
        "\n".join(f"> q {i}" if i % 2 else f"a {i}" for i in range(20000)),
        "hi\n" + "-- \n" * 20000,
        "\n".join("On " + "x1:2 " * 120 + "wrote:" for _ in range(3000)),
        "<div>" * 20000 + "deep",
    ]
    started = time.perf_counter()
    for text in hostile:
        assert new_text(text, text if text.startswith("<") else "")
    assert time.perf_counter() - started < 20  # each takes well under a second
