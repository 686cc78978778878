"""Signed rating links: a token names one reply, one contact and an expiry, under an HMAC.

The MAC also covers a purpose label, so a token made for ratings is worth nothing elsewhere,
and changing any field (another reply, another contact, a later expiry) breaks it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

PURPOSE = b"rating-link-v1\x00"
MAC_BYTES = 18  # 144 bits: far beyond guessing, short enough for a link


@dataclass(frozen=True)
class RatingClaim:
    reply_id: int  # the staff reply (message row) being rated
    contact_id: int  # who may rate it
    expires: int  # Unix seconds


@dataclass(frozen=True)
class Checked:
    claim: RatingClaim | None  # set when the signature is good, even if expired
    problem: str = ""  # "" | malformed | forged | expired


def sign(key: bytes, claim: RatingClaim) -> str:
    payload = f"{claim.reply_id}.{claim.contact_id}.{claim.expires}".encode("ascii")
    return f"{_encode(payload)}.{_encode(_mac(key, payload))}"


def verify(key: bytes, token: str, now: datetime) -> Checked:
    body, dot, signature = token.partition(".")
    try:
        payload, mac = _decode(body), _decode(signature)
        reply_id, contact_id, expires = (int(part) for part in payload.decode("ascii").split("."))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return Checked(None, "malformed")
    if not dot or not hmac.compare_digest(mac, _mac(key, payload)):
        return Checked(None, "forged")
    claim = RatingClaim(reply_id, contact_id, expires)
    if now.timestamp() >= expires:  # genuine but too old: the claim only picks the language
        return Checked(claim, "expired")
    return Checked(claim)


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, PURPOSE + payload, hashlib.sha256).digest()[:MAC_BYTES]


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    if not text or len(text) > 200:
        raise ValueError("bad length")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
