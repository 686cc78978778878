"""Text from header words and body parts whatever their charset claims: a declared charset
first, then UTF-8, then Windows-1252, with replacement characters rather than errors.

mail-parser drops undecodable header bytes and returns 7-bit body parts undecoded; these two
helpers fill those gaps for `parse`.
"""

from __future__ import annotations

import contextlib
import email.header
from email.message import Message

# Charsets whose encoded text is plain 7-bit ASCII, so a "7bit" part still needs decoding.
_SEVEN_BIT = ("iso-2022-", "utf-7", "hz-gb-2312")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """`data` in its declared charset; else UTF-8 (RFC 6532); else Windows-1252."""
    for candidate in (charset, "utf-8"):
        if candidate and candidate.lower() not in ("unknown-8bit", "x-unknown"):
            try:
                return data.decode(candidate)
            except (LookupError, UnicodeError):
                continue
    return data.decode("cp1252", "replace")


def decode_words(value: object) -> str:
    """A header value with its RFC 2047 encoded words (and any raw 8-bit bytes) decoded."""
    try:
        chunks = email.header.decode_header(value)  # type: ignore[arg-type]
    except Exception:  # a malformed encoded word: keep the text as written
        return str(value)
    parts = []
    for data, charset in chunks:
        if isinstance(data, str):
            parts.append(data)
        elif charset is None:  # an unencoded run between encoded words
            parts.append(data.decode("raw-unicode-escape", "replace"))
        else:
            parts.append(decode_bytes(data, charset))
    return "".join(parts)


def decode_seven_bit(values: list[str], message: Message | None, subtype: str) -> list[str]:
    """Decode ISO-2022-JP/KR/CN, UTF-7 and HZ parts mail-parser returned as raw 7-bit text.

    Parts are matched to `values` in order; when the counts differ nothing is changed."""
    if message is None:
        return values
    parts = [
        part
        for part in message.walk()
        if part.get_content_type() == f"text/{subtype}"
        and part.get_content_disposition() != "attachment"
    ]
    if len(parts) != len(values):
        return values
    decoded = []
    for value, part in zip(values, parts, strict=True):
        charset = (part.get_content_charset() or "").lower()
        if charset.startswith(_SEVEN_BIT) and value.isascii():
            with contextlib.suppress(LookupError):  # a charset this Python lacks stays as is
                value = value.encode("ascii").decode(charset, "replace")
        decoded.append(value)
    return decoded
