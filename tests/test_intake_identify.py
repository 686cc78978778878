"""The intake reads the few header fields its duplicate check needs without parsing the whole
header block; what it reads must be what the standard library's parser reads, byte for byte,
or a redelivery of mail stored earlier would get a new digest and be stored twice."""

from __future__ import annotations

import hashlib
from email.parser import BytesHeaderParser
from email.policy import compat32

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.core.parse import message_ids
from gateway.intake import identify

DOMAIN = "support.example"
DIGESTED = ("from", "to", "cc", "subject", "date", "message-id", "in-reply-to")


def parsed_identity(raw: bytes) -> tuple[str, bool, str]:
    """`identify` as it was written first: the whole header block through the standard
    library's parser (digests already stored were made this way)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")
    digest = hashlib.sha256()
    for name in DIGESTED:
        digest.update(f"{name}:{headers.get(name, '')}\n".encode("utf-8", "replace"))
    digest.update(body.replace(b"\r\n", b"\n"))
    hexdigest = digest.hexdigest()
    found = message_ids(str(headers.get("message-id", "") or ""))
    if found:
        return found[0], False, hexdigest
    return f"<{hexdigest[:32]}@generated.{DOMAIN}>", True, hexdigest


PLAIN = (
    b"From: Alice <alice@customer.example>\r\nTo: support@support.example\r\n"
    b"Subject: Printer on fire\r\nDate: Mon, 3 Mar 2025 10:00:00 +0000\r\n"
    b"Message-ID: <m1@customer.example>\r\n\r\nIt is still burning.\r\n"
)

CASES = {
    "plain": PLAIN,
    "lf only": PLAIN.replace(b"\r\n", b"\n"),
    "folded subject": PLAIN.replace(b"Printer on fire", b"Printer\r\n on\r\n\tfire"),
    "folded after an empty first line": PLAIN.replace(b"Subject: ", b"Subject:\r\n  "),
    "folded message-id": PLAIN.replace(b"Message-ID: ", b"Message-ID:\r\n "),
    "blank continuation line": PLAIN.replace(b"on fire", b"on fire\r\n \r\n\t"),
    "no message-id": PLAIN.replace(b"Message-ID: <m1@customer.example>\r\n", b""),
    "no headers we digest": b"X-Other: 1\r\n\r\nbody",
    "empty values": b"From:\r\nTo:   \r\nSubject:\t\r\n\r\nbody",
    "names in any case": PLAIN.replace(b"Subject", b"sUBJECT").replace(b"From", b"FROM"),
    "two subjects: the first counts": PLAIN.replace(b"Date", b"Subject: second\r\nDate"),
    "name with a blank before the colon": PLAIN.replace(b"Subject:", b"Subject :"),
    "x-from is not from": b"X-From: mallory@x.example\r\nFrom: a@b.example\r\n\r\nbody",
    "8-bit subject": PLAIN.replace(b"Printer", "Drucker brennt \u00fc".encode()),
    "latin-1 subject": PLAIN.replace(b"Printer", b"Drucker \xfc"),
    "bare cr in a value": PLAIN.replace(b"on fire", b"on\rfire"),
    "bare cr ending a line": PLAIN.replace(b"fire\r\nDate", b"fire\rDate"),
    "bare cr ending the head": PLAIN.replace(b"burning", b"x").replace(b"\r\n\r\n", b"\r\r\n\r\n"),
    "mixed line ends": PLAIN.replace(b"\r\nSubject", b"\nSubject"),
    "lf blank line inside a crlf head": PLAIN.replace(b"\r\nSubject", b"\n\nSubject"),
    "unix from line": b"From alice@x.example Mon Mar  3 10:00:00 2025\r\n" + PLAIN,
    "unix from line in the middle": PLAIN.replace(b"Date", b"From x Mon\r\nDate"),
    "first line folded": b" stray\r\n" + PLAIN,
    "line without a colon": PLAIN.replace(b"Date", b"not a header\r\nDate"),
    "missing name": PLAIN.replace(b"Date", b": no name\r\nDate"),
    "nul in a value": PLAIN.replace(b"on fire", b"on\x00fire"),
    "control character in a name": PLAIN.replace(b"Subject", b"Sub\x01ject"),
    "no body": PLAIN.split(b"\r\n\r\n")[0],
    "no body, ends with a line break": PLAIN.split(b"\r\n\r\n")[0] + b"\r\n",
    "empty head": b"\r\n\r\nonly a body",
    "empty": b"",
    "only a line break": b"\n",
    "two message-ids": PLAIN.replace(b"<m1@", b"<m0@x> <m1@"),
    "garbage message-id": PLAIN.replace(b"<m1@customer.example>", b"no brackets"),
    "tab before the value": PLAIN.replace(b"Subject: ", b"Subject:\t"),
    "crlf body with lf blank line": PLAIN.replace(b"It is", b"It\n\nis"),
}


@pytest.mark.parametrize("raw", CASES.values(), ids=CASES.keys())
def test_identify_reads_what_the_standard_library_reads(raw):
    assert identify(raw, DOMAIN) == parsed_identity(raw)


def test_a_stored_digest_is_still_recognised():
    # Computed by the first intake for PLAIN; a different figure means redeliveries of mail
    # already stored would be taken as new mail.
    assert identify(PLAIN, DOMAIN) == (
        "<m1@customer.example>",
        False,
        "d4821b87b5ddd3fe3d0fb21c9b13075e3763c300733b6878616e4339ce6895f3",
    )


NAMES = [n.encode() for n in DIGESTED] + [
    b"SUBJECT", b"Message-Id", b"In-Reply-To", b"X-Mailer", b"Received", b"X-From", b"Cc",
]  # fmt: skip
PLAIN_PIECES = [
    b"a",
    b"<id@x>",
    b"<id2@x> <id3@x>",
    b" ",
    b"\t",
    b":",
    b"@",
    b"From ",
    b"=?utf-8?q?x?=",
]
TROUBLE = [b"\r", b"\n", b"\r\n", b"\n\n", b"\xc3\xa9", b"\xff", b"\x00", b"\x01", b"From ", b" :"]


@st.composite
def header_blocks(draw) -> bytes:
    """Mostly plain header blocks (the quick reading's), a third of them with one flaw added."""
    ending = draw(st.sampled_from([b"\r\n", b"\n"]))
    head = b""
    for _ in range(draw(st.integers(0, 8))):
        value = b"".join(draw(st.lists(st.sampled_from(PLAIN_PIECES), max_size=5)))
        if draw(st.integers(0, 4)):
            head += draw(st.sampled_from(NAMES)) + b":" + draw(st.sampled_from([b"", b" ", b"\t"]))
        else:
            head += draw(st.sampled_from([b" ", b"\t"]))  # a folded line
        head += value + draw(st.sampled_from([ending] * 6 + [b"\r\n", b"\n", b"\r"]))
    if not draw(st.integers(0, 2)):
        at = draw(st.integers(0, len(head)))
        head = head[:at] + draw(st.sampled_from(TROUBLE)) + head[at:]
    return (
        head
        + draw(st.sampled_from([ending, ending, ending, ending, b"", b"\r"]))
        + b"body\r\nmore\n"
    )


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(header_blocks())
def test_identify_agrees_on_generated_header_blocks(raw):
    assert identify(raw, DOMAIN) == parsed_identity(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=600))
def test_identify_agrees_on_random_bytes(raw):
    assert identify(raw, DOMAIN) == parsed_identity(raw)
