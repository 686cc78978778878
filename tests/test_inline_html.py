"""The pure side of inline images: Content-IDs as parsed, which parts may show inline, and the
HTML we pass on (sanitised, cut to the new text, showing only images that travel with it)."""

from __future__ import annotations

import re

import pytest
from reply_cases import load

from gateway.core.htmltext import html_to_text
from gateway.core.inline import clean_content_id, is_inline_image, shown_html
from gateway.core.parse import parse
from gateway.core.quotes import extract

PNG = b"\x89PNG\r\n\x1a\n" + bytes(20)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<part1.Ab3@example.com>", "part1.Ab3@example.com"),
        ("ii_lx3b7z0a0", "ii_lx3b7z0a0"),
        ("<a\"b'c@x>", "abc@x"),
        ("<evil@x>\r\nBcc: victim@y", "evil@xBccvictim@y"),
        ("< spaced id@x >", "spacedid@x"),
        ("<" + "a" * 201 + ">", ""),  # refused, not cut: two long ids must not collide
        ("", ""),
    ],
)
def test_content_ids_are_cleaned(raw, clean):
    assert clean_content_id(raw) == clean


@pytest.mark.parametrize(
    ("content_type", "data", "inline"),
    [
        ("image/png", PNG, True),
        ("image/jpeg", b"\xff\xd8\xff\xe0JFIF", True),
        ("image/gif", b"GIF89a...", True),
        ("image/webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", True),
        ("image/png", b"MZ\x90\x00", False),  # a program labelled as an image
        ("image/svg+xml", b"<svg onload=alert(1)>", False),  # SVG carries scripts
        ("text/html", b"<p>hi</p>", False),
        ("application/x-msdownload", b"MZ\x90\x00", False),
    ],
)
def test_only_raster_images_show_inline(content_type, data, inline):
    assert is_inline_image(content_type, data) is inline


def raw_mail(*parts: str) -> bytes:
    head = (
        "From: a@customer.example\nTo: support@support.example\nSubject: x\n"
        'Message-ID: <m@customer.example>\nContent-Type: multipart/related; boundary="B"\n\n'
    )
    body = "".join(f"--B\n{part}\n" for part in parts) + "--B--\n"
    return (head + body).replace("\n", "\r\n").encode()


def test_parse_records_content_id_and_inline():
    png = "iVBORw0KGgoAAAA="
    raw = raw_mail(
        'Content-Type: text/html\n\n<p>hi <img src="cid:shot@x"></p>',
        f"Content-Type: image/png\nContent-Disposition: inline\nContent-ID: <shot@x>\n"
        f"Content-Transfer-Encoding: base64\n\n{png}",
        f'Content-Type: image/png\nContent-ID: <q"uo\n ted@x>\nContent-Transfer-Encoding: '
        f"base64\n\n{png}",
        f'Content-Type: image/png\nContent-Disposition: attachment; filename="a.png"\n'
        f"Content-ID: <att@x>\nContent-Transfer-Encoding: base64\n\n{png}",
        'Content-Type: application/pdf\nContent-Disposition: attachment; filename="b.pdf"\n'
        "Content-Transfer-Encoding: base64\n\nJVBERg==",
    )
    found = [(a.content_id, a.inline) for a in parse(raw, "<m@customer.example>").attachments]
    assert found == [("shot@x", True), ("quoted@x", True), ("att@x", False), ("", False)]


def test_only_images_that_travel_with_the_html_survive():
    html = (
        '<p onclick="x()">Hi <img src="cid:real@x" alt="r"><img src="CID:real%40x">'
        '<img src="cid:missing@x"><img src="http://tracker.example/p.gif">'
        '<img src="https://tracker.example/p.gif"><img src="//tracker.example/p.gif">'
        '<img src="data:image/png;base64,iVBORw0KGgo="><img src="javascript:alert(1)">'
        '<a href="javascript:alert(1)">x</a><script>alert(2)</script>'
        '<svg><image href="http://tracker.example/s.png"/></svg></p>'
    )
    shown = shown_html(html, {"real@x"})
    assert shown.images == ("real@x",)
    assert re.findall(r"<img[^>]*>", shown.html) == [
        '<img src="cid:real@x" alt="r">',
        '<img src="cid:real@x">',
    ]
    for word in ("tracker", "data:", "javascript", "script", "onclick", "missing"):
        assert word not in shown.html


def test_markers_used_for_cutting_are_not_passed_on():
    shown = shown_html('<div class="gmail_quote" id="x">Hello</div>', set())
    assert shown.html == "<div>Hello</div>"


GMAIL = (
    '<div>/assign me</div><div>Hello,</div><div>See:</div><div><img src="cid:a"></div>'
    '<div>Bye</div><div class="gmail_quote"><div>On Mon, Sam wrote:</div>'
    '<blockquote class="gmail_quote">secret history <img src="cid:b"></blockquote></div>'
)


def test_cut_keeps_the_new_text_and_its_images_in_place():
    shown = shown_html(GMAIL, {"a", "b"}, "Hello,\nSee:\n[image: a.png]\nBye")
    assert shown.images == ("a",)
    assert shown.html == (
        '<div>Hello,</div><div>See:</div><div><img src="cid:a"></div><div>Bye</div>'
    )


def test_a_quote_above_the_new_text_goes_with_its_images():
    html = '<blockquote type="cite">old words <img src="cid:b"></blockquote><p>Mine</p>'
    html += '<img src="cid:a">'
    shown = shown_html(html, {"a", "b"}, "Mine")
    assert (shown.html, shown.images) == ('<p>Mine</p><img src="cid:a">', ("a",))


def test_cut_gives_up_rather_than_show_more_or_less_than_the_new_text():
    # answers between quotes: the HTML cannot show them without the quotes
    inline = "<div>Top</div><blockquote type=cite>q1</blockquote><div>answer</div>"
    assert shown_html(inline, set(), "Top\n> q1\nanswer") is None
    # the HTML says something the text part does not
    assert shown_html("<p>Hello there</p>", set(), "Hello").html == "<p>Hello</p>"
    assert shown_html("<p>Hello</p><p>password hunter2</p>", set(), "Hello").html == "<p>Hello</p>"
    assert shown_html("<p>Hello</p>", set(), "Hello and more") is None


@pytest.mark.parametrize("case", [c for c in load() if c.html], ids=lambda c: c.name)
def test_cut_html_never_says_more_than_the_new_text(case):
    """Over every client's HTML in the reply fixtures: the cut says the new text or gives up."""
    body = extract(case.text, case.html).text
    shown = shown_html(case.html, set(), body)
    if shown is None:
        assert "inline" in case.name  # only answers between quotes cannot be cut
        return
    said = re.findall(r"\w+", html_to_text(shown.html).lower())
    assert said == re.findall(r"\w+", case.expected.lower())
