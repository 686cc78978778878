"""Written permission: read an answer's first line, and sign or check an answer link.

The answer is the whole first line of the customer's new text, so "Approve? What for?" is
not an approval. A link carries the request, the contact it was mailed to, the decision and
the expiry, signed with HMAC-SHA256: changing any of them breaks the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

APPROVE, DENY = "approve", "deny"
_WORDS = {"APPROVE": APPROVE, "JACCEPTE": APPROVE, "DENY": DENY, "JEREFUSE": DENY}


def read_answer(text: str) -> str | None:
    """`approve`, `deny`, or None when the first non-blank line is not exactly an answer."""
    for line in text.splitlines():
        if line.strip():
            return _WORDS.get(_normalise(line))
    return None


def _normalise(line: str) -> str:
    """Upper case, accents and apostrophes dropped: "J’accepte." -> "JACCEPTE"."""
    plain = unicodedata.normalize("NFKD", line.strip().rstrip(".!")).upper()
    return "".join(c for c in plain if c.isalpha())


@dataclass(frozen=True)
class LinkClaim:
    approval_id: int
    contact_id: int
    decision: str
    expires_at: datetime


def sign_link(secret: bytes, claim: LinkClaim) -> str:
    body = _body(claim)
    return f"{body}.{_mac(secret, body)}"


def check_link(secret: bytes, token: str, now: datetime) -> tuple[LinkClaim | None, str]:
    """(claim, "") for a valid, unexpired link; (None, why) otherwise."""
    parts = token.split(".")
    if len(parts) != 5 or not all(p.isdigit() for p in (parts[0], parts[1], parts[3])):
        return None, "malformed link"
    if parts[2] not in ("a", "d"):
        return None, "malformed link"
    body, mac = ".".join(parts[:4]), parts[4]
    if not hmac.compare_digest(mac, _mac(secret, body)):
        return None, "the link's signature does not match (altered or forged)"
    claim = LinkClaim(
        approval_id=int(parts[0]),
        contact_id=int(parts[1]),
        decision=APPROVE if parts[2] == "a" else DENY,
        expires_at=datetime.fromtimestamp(int(parts[3]), UTC),
    )
    if now >= claim.expires_at:
        return None, "the request has expired"
    return claim, ""


def _body(claim: LinkClaim) -> str:
    letter = "a" if claim.decision == APPROVE else "d"
    return f"{claim.approval_id}.{claim.contact_id}.{letter}.{int(claim.expires_at.timestamp())}"


def _mac(secret: bytes, body: str) -> str:
    digest = hmac.new(secret, b"approval-link:" + body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")
