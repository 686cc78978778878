"""HTML kept for display goes through an allow-list: nothing that runs code, submits data,
redirects, or fetches from the network survives; the author's text and inline images do."""

from __future__ import annotations

import pytest

from gateway.core.sanitize import clean_html


@pytest.mark.parametrize(
    ("hostile", "forbidden"),
    [
        ("<p>hi</p><script>alert(document.cookie)</script>", "<script"),
        ("<p>hi</p><script>alert(document.cookie)</script>", "alert"),
        ('<img src="cid:x" onerror="alert(1)">', "onerror"),
        ('<p onclick="steal()" onmouseover="steal()">hi</p>', "steal"),
        ('<a href="javascript:alert(1)">pay here</a>', "javascript"),
        ('<a href="JaVaScRiPt:alert(1)">pay here</a>', "alert"),
        ('<a href="java&#x09;script:alert(1)">pay here</a>', "alert"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">open</a>', "data:"),
        ('<svg onload="alert(1)"><circle r="9"/></svg>', "onload"),
        ('<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>', "javascript"),
        ('<meta http-equiv="refresh" content="0;url=https://evil.example/">', "refresh"),
        ('<base href="https://evil.example/">', "evil.example"),
        ('<form action="https://evil.example/login"><input name="password"></form>', "<form"),
        ('<form action="https://evil.example/login"><input name="password"></form>', "<input"),
        ('<img src="https://tracker.example/pixel.gif?u=42" alt="">', "tracker.example"),
        ('<img src="http://tracker.example/pixel.gif">', "tracker.example"),
        ('<img src="//tracker.example/pixel.gif">', "tracker.example"),
        ('<img srcset="https://tracker.example/a.png 2x">', "tracker.example"),
        ('<div style="background:url(https://tracker.example/bg.png)">hi</div>', "tracker"),
        ("<style>@import url(https://evil.example/x.css);</style>", "evil.example"),
        ('<link rel="stylesheet" href="https://evil.example/x.css">', "evil.example"),
        ('<iframe src="https://evil.example/"></iframe>', "<iframe"),
        ('<object data="https://evil.example/x.swf"></object>', "evil.example"),
        ('<embed src="https://evil.example/x.swf">', "evil.example"),
        (
            '<table background="https://tracker.example/t.png"><tr><td>x</td></tr></table>',
            "tracker",
        ),
        ("<p>hi<!-- <script>alert(1)</script> --></p>", "alert"),
        ('<a href="https://ok.example/" target="_blank" ping="https://t.example/">ok</a>', "ping"),
    ],
)
def test_hostile_markup_is_removed(hostile, forbidden):
    assert forbidden.lower() not in clean_html(hostile).lower()


def test_inline_images_and_safe_links_are_kept():
    html = (
        '<p>Screenshot: <img src="cid:image001.png@01DA6F" alt="error dialog" width="300"></p>'
        '<p><a href="https://status.example.com/">status</a> '
        '<a href="mailto:help@example.com">mail us</a></p>'
    )
    cleaned = clean_html(html)
    assert '<img src="cid:image001.png@01DA6F" alt="error dialog" width="300">' in cleaned
    assert 'href="https://status.example.com/"' in cleaned
    assert 'href="mailto:help@example.com"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned


def test_the_authors_text_and_structure_survive():
    html = (
        "<div><b>Hello</b>,<br><ul><li>one</li><li>two</li></ul>"
        "<table><tr><td>Serial</td><td>C02X</td></tr></table>"
        '<blockquote type="cite">quoted</blockquote></div>'
    )
    assert clean_html(html) == html.replace("<table>", "<table><tbody>").replace(
        "</table>", "</tbody></table>"
    )


def test_text_inside_removed_tags_is_kept_only_where_it_is_content():
    cleaned = clean_html(
        "<form><p>Your order</p><button>Confirm</button></form><script>x()</script>"
    )
    assert "Your order" in cleaned
    assert "x()" not in cleaned
