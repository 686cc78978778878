"""Is a mail that claims to come from staff really theirs? Read a trusted Authentication-Results.

Only the topmost `Authentication-Results` header counts, and only when its authserv-id is one
the configuration trusts (RFC 8601 section 5: the border MTA removes look-alikes, so deeper
headers may be forged). Staff mail passes with DMARC pass, or a DKIM pass aligned with the
company domain. The insecure development switch is named as such and off by default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.core.model import Verdict

_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class AuthResult:
    method: str
    result: str
    properties: dict[str, str]


def parse_authentication_results(value: str) -> tuple[str, tuple[AuthResult, ...]]:
    """(authserv-id, results) from one header value; unknown shapes give no results."""
    value = _COMMENT.sub(" ", " ".join(value.split()))
    parts = [p.strip() for p in value.split(";")]
    if not parts or not parts[0]:
        return "", ()
    authserv_id = parts[0].split()[0].lower()
    results = []
    for part in parts[1:]:
        tokens = part.split()
        if not tokens or "=" not in tokens[0]:
            continue
        method, _, result = tokens[0].partition("=")
        props = {}
        for token in tokens[1:]:
            key, sep, val = token.partition("=")
            if sep:
                props[key.lower()] = val.strip('"').lower()
        results.append(AuthResult(method.lower(), result.lower(), props))
    return authserv_id, tuple(results)


def _aligned(domain: str, from_domain: str) -> bool:
    return domain == from_domain or from_domain.endswith("." + domain)


def staff_verdict(
    auth_results: tuple[str, ...],
    trusted_ids: tuple[str, ...],
    from_domain: str,
    *,
    insecure_trust_from: bool = False,
) -> Verdict:
    """Pass only on DMARC pass, or DKIM pass aligned with the author's domain."""
    if insecure_trust_from:
        return Verdict("pass", "insecure_trust_staff_from is on: From trusted as is")
    if not auth_results:
        return Verdict("none", "no Authentication-Results header")
    authserv_id, results = parse_authentication_results(auth_results[0])
    if authserv_id not in {t.lower() for t in trusted_ids}:
        return Verdict("none", f"topmost Authentication-Results from untrusted {authserv_id!r}")
    domain = from_domain.lower()
    for item in results:
        aligned = _aligned(item.properties.get("header.from", ""), domain)
        if item.method == "dmarc" and item.result == "pass" and aligned:
            return Verdict("pass", f"dmarc=pass for {domain} ({authserv_id})")
    for item in results:
        if item.method == "dkim" and item.result == "pass":
            signer = item.properties.get("header.d", "") or item.properties.get("header.i", "")
            signer = signer.rpartition("@")[2]
            if _aligned(signer, domain):
                return Verdict("pass", f"dkim=pass aligned with {domain} ({authserv_id})")
    summary = ", ".join(f"{r.method}={r.result}" for r in results) or "no results"
    return Verdict("fail", f"no aligned pass for {domain}: {summary} ({authserv_id})")
