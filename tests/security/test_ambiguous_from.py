"""Attack: a From header that parsers read differently (research case 13; CVE-2023-27043).
Python 3.11's lenient address reader takes `x@evil@support.example` for an address at our
domain; a mail client may show a staff or customer address where the filter saw another. Such
a From names no author: the mail is held with the reason and runs nothing, signed or not."""

from __future__ import annotations

from email.headerregistry import HeaderRegistry

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mailauth import private_key, sign
from trustkit import AGENT, ALICE, held, open_ticket, raw, send, staff_reply, ticket

from gateway.core import author
from gateway.core.parse import _addresses as parse_addresses
from gateway.core.parse import parse

AMBIGUOUS = [
    "x@evil.example@support.example",  # read as `@support.example`
    "x@evil.example)<agent@support.example>",  # an unbalanced comment hides an address
    "=?utf-8?q?agent=40support.example?=@evil.example",  # an encoded word as a local part
    "<x@evil.example> agent@support.example",  # text after the address
]
# Real mail clients write these; both parsers read each as one address.
PLAIN = [
    ('"Doe, Alice" <alice@customer.example>', "alice@customer.example"),
    ("Alice Doe <ALICE@Customer.Example>", "alice@customer.example"),
    ("alice@customer.example (Alice Doe)", "alice@customer.example"),
    ("Dr. A. O'Doe <alice@customer.example>", "alice@customer.example"),
    ("=?utf-8?q?Alic=C3=A9?= <alice@customer.example>", "alice@customer.example"),
    ('"agent@support.example" <alice@customer.example>', "alice@customer.example"),
    # folded, as a mail client writes a long encoded name
    ("=?windows-1252?q?J=FCrgen_M=FCller?=\r\n <alice@customer.example>", "alice@customer.example"),
    ("=?utf-8?q?Alic=C3=A9?=\n\t<alice@customer.example>", "alice@customer.example"),
]


def _with_from(message, value: str) -> bytes:
    del message["From"]
    return b"From: " + value.encode() + b"\r\n" + raw(message)


@pytest.mark.parametrize("value", AMBIGUOUS)
def test_an_ambiguous_from_names_no_author(value):
    data = b"From: " + value.encode() + b"\r\nSubject: hi\r\nMessage-ID: <1@e>\r\n\r\nhi\r\n"
    mail = parse(data, "<1@e>")
    assert mail.sender is None
    assert "ambiguous-from" in mail.defects


@pytest.mark.parametrize("value, address", PLAIN)
def test_plain_from_headers_keep_their_author(value, address):
    data = b"From: " + value.encode() + b"\r\nSubject: hi\r\nMessage-ID: <1@e>\r\n\r\nhi\r\n"
    mail = parse(data, "<1@e>")
    assert mail.sender is not None and mail.sender.email == address
    assert "ambiguous-from" not in mail.defects


@pytest.mark.parametrize("signing", ["unsigned", "signed by our own domain"])
@pytest.mark.parametrize("value", AMBIGUOUS)
def test_an_ambiguous_staff_from_runs_nothing(verifying, value, signing):
    gw = verifying
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    message = staff_reply(gw, "/status closed\nYour data is deleted.")
    data = _with_from(message, value)
    if signing != "unsigned":
        data = sign(data, "support.example", private_key("company"))
    send(gw, data, mail_from=AGENT)
    assert ticket(gw, t.id).status == "new"
    assert len(gw.sink.to(ALICE)) == before
    entry = held(gw)[-1]
    assert entry.reason == "no-single-sender" and "read differently" in entry.detail


_ATOM = st.text("abcxyzABC019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=6)
_ADDRESSES = st.builds(
    lambda local, domain: f"{'.'.join(local)}@{'.'.join(domain)}",
    st.lists(_ATOM, min_size=1, max_size=3),
    st.lists(st.text("abz09-", min_size=1, max_size=6), min_size=1, max_size=3),
)
_NAMES = st.one_of(
    st.just(""),
    st.text("abcXYZ09!#$%&'*+/=?^_`{|}~- \t", max_size=20),
    st.builds(lambda inner: f'"{inner}"', st.text("ab <>@,;:().[]' =?", max_size=12)),
)


@settings(max_examples=500, deadline=None)
@given(name=_NAMES, address=_ADDRESSES, bracketed=st.booleans())
def test_a_from_read_quickly_as_plain_is_read_alike_by_the_strict_parser(name, address, bracketed):
    """The fast path must never pass a From the strict parser reads otherwise."""
    assume("=?" not in address)  # an encoded word in an address is never plain
    value = f"{name} <{address}>" if bracketed or name else address
    [found] = parse_addresses([value])
    assert author._plain(value, found.email), value  # these are all plain: the fast path
    strict = [a.addr_spec.lower() for a in HeaderRegistry()("from", value).addresses]
    assert strict == [found.email], value
