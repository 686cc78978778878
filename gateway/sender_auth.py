"""The sender verdict for every inbound mail, in the configured mode.

`verify`: check every DKIM signature on the raw bytes (dkimpy), SPF for the envelope sender
and the connecting IP (pyspf), and DMARC for the From domain (`core.dmarc`), all through a
`Resolver` port: production passes a real resolver, tests an in-memory zone.
`trusted-headers`: read the Authentication-Results our border MTA wrote (`core.trust`).
"""

from __future__ import annotations

import logging
from typing import Protocol

import dkim
import spf

from gateway.core import dmarc, trust
from gateway.core.model import Envelope, ParsedMail, Verdict

log = logging.getLogger(__name__)
MODES = ("trusted-headers", "verify")


class DnsTemporaryError(Exception):
    """The DNS did not answer (timeout, server failure); the lookup may work later."""


class Resolver(Protocol):
    def lookup(self, name: str, rdtype: str) -> list:
        """Records of `rdtype` at `name` ([] if none): TXT as str (its strings joined),
        A/AAAA/PTR as str, MX as (preference, host). Raises DnsTemporaryError."""


class Authenticator:
    def __init__(self, mode: str, trusted_ids: tuple[str, ...], resolver: Resolver | None):
        if mode not in MODES:
            raise ValueError(f"unknown auth mode {mode!r}")
        if mode == "verify" and resolver is None:
            raise ValueError("verify mode needs a DNS resolver")
        self.mode, self.trusted_ids, self.resolver = mode, trusted_ids, resolver

    def verdict(self, raw: bytes, mail: ParsedMail, envelope: Envelope) -> Verdict:
        if len(mail.from_addresses) != 1:
            return trust.no_single_author(len(mail.from_addresses))
        domain = mail.from_addresses[0].email.rpartition("@")[2]
        if self.mode == "trusted-headers":
            return trust.verdict_from_headers(mail.auth_results, self.trusted_ids, domain)
        return dmarc.evaluate(self.facts(raw, domain, envelope))

    def facts(self, raw: bytes, from_domain: str, envelope: Envelope) -> dmarc.Facts:
        problems: list[str] = []
        signatures = check_dkim(raw, self._txt_bytes, problems)
        spf_result = check_spf(self.resolver, envelope, problems)
        record, where = self._dmarc_record(from_domain, problems)
        return dmarc.Facts(from_domain, signatures, spf_result, record, where, tuple(problems))

    def _txt_bytes(self, name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        try:
            texts = self.resolver.lookup(name.rstrip("."), "TXT")
        except DnsTemporaryError:
            return None
        return texts[0].encode() if texts else None

    def _dmarc_record(self, domain: str, problems: list[str]):
        """The From domain's record, else its Organizational Domain's (RFC 7489 6.6.3)."""
        org = dmarc.org_domain(domain)
        for where in dict.fromkeys((domain, org)):
            try:
                record = dmarc.parse_record(self.resolver.lookup(f"_dmarc.{where}", "TXT"))
            except DnsTemporaryError as error:
                problems.append(f"DMARC lookup failed: {error}")
                return None, ""
            if record is not None:
                return record, where
        return None, ""


def check_dkim(raw: bytes, txt, problems: list[str]) -> tuple[tuple[str, str], ...]:
    """(d=, result) for each DKIM-Signature, topmost first."""
    results = []
    checker = dkim.DKIM(raw)
    count = sum(1 for name, _ in checker.headers if name.lower() == b"dkim-signature")
    for index in range(min(count, 5)):  # a bound: each one costs a DNS lookup
        checker = dkim.DKIM(raw)
        try:
            ok = checker.verify(idx=index, dnsfunc=txt)
        except dkim.DKIMException as error:
            problems.append(f"dkim error: {error}")
            ok = False
        domain = (checker.domain or b"").decode("ascii", "replace").lower()
        if domain:
            results.append((domain, "pass" if ok else "fail"))
    return tuple(results)


def check_spf(resolver: Resolver, envelope: Envelope, problems: list[str]) -> tuple[str, str]:
    """(envelope domain, result) for MAIL FROM at the connecting IP; none without both."""
    sender = envelope.mail_from.strip("<>")
    domain = sender.rpartition("@")[2].lower()
    if not sender or not domain or not envelope.peer:
        return domain, "none"
    query = _SpfQuery(resolver, i=envelope.peer, s=sender, h=domain)
    try:
        result, _code, explanation = query.check()
    except Exception as error:  # pyspf raises its own errors for broken records
        problems.append(f"spf error: {error}")
        return domain, "temperror"
    if result not in ("pass", "neutral", "none"):
        log.debug("spf %s for a sender at %s", result, domain)  # no address in the log
    return domain, result


class _SpfQuery(spf.query):
    """pyspf's evaluator with its DNS replaced by our port (its own goes to the network)."""

    def __init__(self, resolver: Resolver, **kwargs):
        super().__init__(**kwargs, querytime=20)
        self._resolver = resolver

    def dns(self, name, qtype, cnames=None, ignore_void=False):
        name = str(name).rstrip(".").lower()
        if not name or not all(0 < len(label) < 64 for label in name.split(".")):
            return []
        try:
            found = self._resolver.lookup(name, qtype)
        except DnsTemporaryError as error:
            raise spf.TempError(f"DNS {error}") from error
        if qtype in ("TXT", "SPF"):
            found = [(text.encode(),) for text in found]
        if not found and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return found
