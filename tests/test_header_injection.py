"""Outgoing headers cannot be injected through names, subjects or filenames taken from mail
(CVE-2024-6923, RT CVE-2012-4730, cpython#100612): the output is re-parsed and its header set
compared with what we meant to write."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from gateway import compose

HOSTILE = [
    "hi\r\nBcc: victim@x.example",
    "hi\nBcc: victim@x.example",
    "hi\rBcc: victim@x.example",
    "hi\u2028Bcc: victim@x.example",
    "hi\u0085Bcc: victim@x.example",
    "hi\x00Bcc: victim@x.example",
    "=?UTF-8?Q?hi=0ABcc:_victim@x.example?=",
    "=?U\u00abF-8?Q?hi=0ABcc:_victim@x.example?=",
    "=?utf-8?b?aGkKQmNjOiB2aWN0aW1AeC5leGFtcGxl?=",
]


def headers_of(raw: bytes) -> set[str]:
    return {name.lower() for name in message_from_bytes(raw, policy=policy.SMTP)}


@pytest.mark.parametrize("value", HOSTILE)
def test_no_header_injection_through_subject_name_or_filename(value):
    draft = compose.Draft(
        from_name=value,
        from_address="support@support.example",
        to=(compose.Recipient("alice@customer.example", value),),
        subject=f"[VB #1] {value}",
        text="body",
        attachments=(compose.OutgoingAttachment(value + ".pdf", "application/pdf", b"%PDF"),),
    )
    raw = compose.build(draft, "<id@support.example>", datetime(2026, 11, 23, tzinfo=UTC))
    assert "bcc" not in headers_of(raw)
    assert b"\nBcc:" not in raw and b"\rBcc:" not in raw
