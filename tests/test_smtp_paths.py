"""The listener reads plain MAIL FROM and RCPT TO paths with a regular expression instead of
aiosmtpd's header parser; what it reads must be exactly what that parser reads, for plain
paths and for every odd one (which still goes to the parser)."""

from __future__ import annotations

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.edges.smtp_in import Listener

listener = Listener(handler=object())
ODD = [
    "<a@b.c>", "<a@b.c> SIZE=100 BODY=8BITMIME", " <a.b+c@x-y.example>  SIZE=1", "<a..b@c>",
    "<a@b.c>x", "a@b.c", "<>", '<"q"@b.c>', "<a@[1.2.3.4]>", "<a@b.c>\tX", "<a@b.c> <d@e>",
    "<.a@b>", "<a@b.>", "<a@-b>", "<a@b.c> (comment) SIZE=1", "<a@b.c>(c)", "<a@b.c>  ",
    "<a@b.c> SIZE=1 ", "<@relay.example:a@b.c>", "<a@b@c>", "<a b@c>", "<a@b.c", "a@b.c>",
    "<" + "x" * 65 + "@b.c>", "<" + "x" * 64 + "@b.c>", "<é@b.c>", "<a@bé.c>", "\x0b<a@b.c>",
]  # fmt: skip


def both(arg: str):
    return listener._getaddr(arg), SMTP._getaddr(listener, arg)


def test_odd_paths_read_as_aiosmtpd_reads_them():
    for arg in ODD:
        quick, parsed = both(arg)
        assert quick == parsed, arg


_ATOM = st.text("abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=6)
_PIECE = st.one_of(_ATOM, st.sampled_from([".", "..", "@", "<", ">", " ", "\t", "(", ")", '"']))


@settings(max_examples=2000, deadline=None)
@given(
    local=st.lists(_ATOM, min_size=1, max_size=3).map(".".join),
    domain=st.lists(st.text("abc09-", min_size=1, max_size=5), min_size=1, max_size=3).map(
        ".".join
    ),
    before=st.sampled_from(["", " ", "  ", "\t"]),
    after=st.lists(_PIECE, max_size=6).map("".join),
)
def test_generated_paths_read_as_aiosmtpd_reads_them(local, domain, before, after):
    arg = f"{before}<{local}@{domain}>{after}"
    quick, parsed = both(arg)
    assert quick == parsed, arg
