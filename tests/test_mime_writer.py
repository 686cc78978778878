"""The quick writer of common outgoing mail must say exactly what it was given: every draft,
written and read back by the standard library's parser, gives the draft's (cleaned) names,
addresses and subject, and the same parts and text as the standard library's own writer; no
text taken from inbound mail can add a header.

(Against the standard library's writer as the reference for headers the test found that
writer's own fault: it folded "victim@example.org" in an encoded display name into
"victim@example.or g".)"""

from __future__ import annotations

import email
import email.policy
import email.utils
from datetime import UTC, datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway import mime_writer
from gateway.compose import Draft, Recipient, build, build_with_email_package
from gateway.core.parse import LOOP_HEADER
from gateway.mime_writer import header_text

DATE = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MESSAGE_ID = "<0123456789abcdef@support.example>"
HEADERS = ("Date", "Message-ID", "Reply-To", "In-Reply-To", "References", "Auto-Submitted",
           "X-Auto-Response-Suppress", "X-Gateway-Loop", "Content-Language")  # fmt: skip


# What inbound mail can put in a name or a subject: specials, quotes, encoded-word look-alikes,
# line breaks of every kind, accents, scripts written right to left, emoji.
def pieces(singles: str, longer: list[str], max_size: int):
    """Text made of single characters and longer pieces."""
    items = st.lists(st.sampled_from(list(singles) + longer), max_size=max_size)
    return items.map("".join)


hostile_text = pieces(
    "abcXYZ019 .,;:<>()[]\\\"'@=?_-\t\r\n\x0b\x85\u2028éüßçœ€中文עבר😀",
    ["=?utf-8?q?", "?=", "Bcc: victim@example.org", "=0A", "\r\n ", "a" * 90],
    12,
)
body_text = pieces("abc XYZ.,\n\r\téü€😀<>&=", ["x" * 400, "=\n", "\r\n"], 30)
local = st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,20}[a-z0-9]", fullmatch=True).filter(
    lambda s: ".." not in s
)
address = st.builds(lambda loc, dom: f"{loc}@{dom}", local,
                    st.sampled_from(["customer.example", "sub.domain-x.example"]))  # fmt: skip
msg_id = st.builds(lambda a: f"<{a}>", address)


@st.composite
def drafts(draw) -> Draft:
    return Draft(
        from_name=draw(hostile_text),
        from_address=draw(address),
        to=tuple(
            draw(st.lists(st.builds(Recipient, address, hostile_text), min_size=1, max_size=3))
        ),  # fmt: skip
        subject=draw(hostile_text),
        text=draw(body_text),
        html=draw(st.one_of(st.just(""), body_text.map(lambda t: f"<p>{t}</p>"))),
        reply_to=draw(st.one_of(st.just(""), address)),
        in_reply_to=draw(st.one_of(st.just(""), msg_id)),
        references=tuple(draw(st.lists(msg_id, max_size=25))),
        auto_submitted=draw(st.sampled_from(["", "auto-replied", "auto-generated"])),
        language=draw(st.sampled_from(["", "fr", "en"])),
        loop_domain=draw(st.sampled_from(["", "support.example"])),
    )


def read(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def mailboxes(message, name: str) -> list[tuple[str, str]]:
    return [(a.display_name, a.addr_spec) for a in message[name].addresses]


def parts(message) -> list[tuple[str, str]]:
    return [(p.get_content_type(), p.get_content()) for p in message.walk()
            if not p.is_multipart()]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(drafts())
def test_the_quick_writer_says_what_the_draft_says(draft):
    quick = mime_writer.write(draft, MESSAGE_ID, email.utils.format_datetime(DATE), LOOP_HEADER)
    assume(quick is not None)  # a display name too long for one encoded word goes elsewhere
    standard = build_with_email_package(draft, MESSAGE_ID, DATE)
    ours, theirs = read(quick), read(standard)
    assert mailboxes(ours, "From") == [(header_text(draft.from_name, 200), draft.from_address)]
    assert mailboxes(ours, "To") == [(header_text(r.name, 200), r.email) for r in draft.to]
    assert str(ours["Subject"]) == header_text(draft.subject, 300)
    for name in HEADERS:
        assert str(ours.get(name, "")).split() == str(theirs.get(name, "")).split(), name
    assert parts(ours) == parts(theirs)
    assert all(not part.defects for part in ours.walk())
    assert all(len(line) <= 998 for line in quick.split(b"\r\n"))
    assert b"\n" not in quick.replace(b"\r\n", b"")


def test_a_name_of_very_long_words_cannot_end_the_headers():
    """The standard library's folder ended the header block inside such a From (hypothesis
    found it): Date, Message-ID and Content-Type fell into the body."""
    draft = Draft(
        from_name="a" * 90 + "\t" + "a" * 90,
        from_address="support@support.example",
        to=(Recipient("alice@customer.example", "b" * 120 + " Alice"),),
        subject="Your request",
        text="Hello",
    )
    message = read(build_with_email_package(draft, MESSAGE_ID, DATE))
    assert message["Date"] is not None and message["Message-ID"] == MESSAGE_ID
    assert message.get_content_type() == "text/plain" and message.get_content().strip() == "Hello"
    [sender] = message["From"].addresses
    assert sender.addr_spec == "support@support.example"
    assert sender.display_name.replace(" ", "") == "a" * 180  # every letter kept
    [recipient] = message["To"].addresses
    assert recipient.addr_spec == "alice@customer.example"


def test_text_from_inbound_mail_never_becomes_a_header():
    subject = "=?x?q?hi=0ABcc:_victim@example.org?= Help\r\nBcc: victim@example.org"
    draft = Draft(
        from_name="Support\r\nBcc: victim@example.org",
        from_address="support@support.example",
        to=(Recipient("alice@customer.example", 'Alice "\r\nCc: x@example.org'),),
        subject=subject,
        text="Hello",
    )
    message = read(build(draft, MESSAGE_ID, DATE))
    assert message["Bcc"] is None and message["Cc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["alice@customer.example"]
    assert "Bcc:" in str(message["Subject"])  # kept as words of the subject, nothing more


def test_common_mail_is_written_by_the_quick_writer():
    draft = Draft(
        from_name="Example Hosting",
        from_address="support@support.example",
        to=(Recipient("zoe@customer.example", "Zoë Müller"),),
        subject="[VB #42] Réponse à votre demande",
        text="Bonjour Zoë",
        html="<p>Bonjour</p>",
        reply_to="support+token@support.example",
        in_reply_to="<a@customer.example>",
        auto_submitted="auto-replied",
        language="fr",
        loop_domain="support.example",
    )
    date = email.utils.format_datetime(DATE)
    assert mime_writer.write(draft, MESSAGE_ID, date, LOOP_HEADER) is not None
    message = read(build(draft, MESSAGE_ID, DATE))
    assert mailboxes(message, "To") == [("Zoë Müller", "zoe@customer.example")]
    assert message["Subject"] == "[VB #42] Réponse à votre demande"
    assert message.get_body(("plain",)).get_content().splitlines() == ["Bonjour Zoë"]


def test_unusual_mail_goes_the_standard_library_way():
    """An address that is not plain ASCII is left to the standard library (which knows
    internationalised addresses); so is a Message-ID with spaces in it."""
    draft = Draft(from_name="", from_address="support@support.example",
                  to=(Recipient("zoë@customer.example"),), subject="Hi", text="Hello")  # fmt: skip
    assert build(draft, MESSAGE_ID, DATE).count(b"boundary") == 0
    odd = Draft(from_name="", from_address="support@support.example",
                to=(Recipient("alice@customer.example"),), subject="Hi", text="Hello",
                in_reply_to="<a b@c>")  # fmt: skip
    assert read(build(odd, MESSAGE_ID, DATE))["In-Reply-To"] is not None
