"""HTML from mail made safe to show: an allow-list of tags and attributes (nh3, the Ammonia
sanitiser), so scripts, event handlers, forms and remote content never survive.

Remote images are dropped because loading one tells the sender the mail was read (a tracking
pixel) and from where; inline images (`cid:`) travel inside the message and are kept.
"""

from __future__ import annotations

import nh3

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup", "dd", "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5",
    "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small",
    "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "tt", "u", "ul",
}  # fmt: skip
# Dropped with their content: what they hold is code or chrome, not the author's text.
_DROP_WITH_CONTENT = {"script", "style", "svg", "math", "template", "iframe", "object", "title"}
_ATTRIBUTES = {
    "*": {"dir", "lang", "title", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign"},
    "th": {"colspan", "rowspan", "valign", "scope"},
    "ol": {"start", "type"},
    "font": {"color"},
    "blockquote": {"type"},
}
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Keep only inline images and absolute links; relative URLs mean nothing in a mail."""
    lowered = value.strip().lower()
    if tag == "img" and attribute == "src":
        return value if lowered.startswith("cid:") else None
    if tag == "a" and attribute == "href":
        return value if lowered.startswith(_LINK_SCHEMES) else None
    return value


def clean_html(html: str, *, markers: bool = False) -> str:
    """`html` with everything outside the allow-list removed; safe to embed in a page.

    `markers` also keeps `class` and `id`, which name mail clients' quote containers, for a
    reader that cuts the history away and drops them before anything is shown (inline.py)."""
    attributes = _ATTRIBUTES
    if markers:
        attributes = _ATTRIBUTES | {"*": _ATTRIBUTES["*"] | {"class", "id"}}
    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=attributes,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https", "mailto", "tel", "cid"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
