"""Test helpers for sender verification: an in-memory DNS zone and our own DKIM keys.

Tests publish SPF, DKIM and DMARC records in a `Zone`, sign their own messages with keys
generated here, and hand the zone to the gateway as its resolver (no network).
"""

from __future__ import annotations

import base64
import functools
from collections import defaultdict

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.sender_auth import DnsTemporaryError

SELECTOR = "s1"


class Zone:
    """The `Resolver` port over a dict: `add("example", "TXT", "v=spf1 ...")`."""

    def __init__(self):
        self.records: dict[tuple[str, str], list] = defaultdict(list)
        self.broken: set[str] = set()  # names whose lookups time out
        self.queries: list[tuple[str, str]] = []

    def add(self, name: str, rdtype: str, value) -> Zone:
        self.records[(name.lower().rstrip("."), rdtype)].append(value)
        return self

    def lookup(self, name: str, rdtype: str) -> list:
        name = name.lower().rstrip(".")
        self.queries.append((name, rdtype))
        if name in self.broken:
            raise DnsTemporaryError(f"{rdtype} {name}: timed out")
        return list(self.records.get((name, rdtype), []))

    def domain(
        self,
        name: str,
        *,
        spf="v=spf1 ip4:127.0.0.1 -all",
        dmarc="v=DMARC1; p=reject",
        key: bytes | None = None,
    ) -> Zone:
        """Publish a sending domain: SPF for the loopback sender, a DMARC policy, a DKIM key."""
        if spf:
            self.add(name, "TXT", spf)
        if dmarc:
            self.add(f"_dmarc.{name}", "TXT", dmarc)
        if key is not None:
            self.add(f"{SELECTOR}._domainkey.{name}", "TXT", public_record(key))
        return self


@functools.cache
def private_key(name: str = "default") -> bytes:
    """A 2048-bit RSA key in PEM (dkimpy refuses keys under 1024 bits), one per name."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def public_record(pem: bytes) -> str:
    key = serialization.load_pem_private_key(pem, password=None)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def sign(raw: bytes, domain: str, key: bytes) -> bytes:
    """`raw` with a DKIM-Signature of `domain` on top (From, To, Subject, Date, Message-ID)."""
    headers = [b"from", b"to", b"subject", b"date", b"message-id", b"in-reply-to"]
    signature = dkim.sign(raw, SELECTOR.encode(), domain.encode(), key, include_headers=headers)
    return signature + raw
