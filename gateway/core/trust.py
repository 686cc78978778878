"""Who really sent a mail: read a trusted Authentication-Results, and judge staff mail by it.

In `trusted-headers` mode the border MTA authenticates and writes one `Authentication-Results`
header on top; `border.clean` has already removed every other one (RFC 8601 section 5), so the
header read here is ours. The verdict speaks for the From domain only: a pass for any other
domain (DKIM of a mailing service, SPF of a forwarder) proves nothing about the author.
Staff mail needs a DMARC pass or an aligned DKIM pass for the staff member's own domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.core import dmarc
from gateway.core.model import Verdict

_COMMENT = re.compile(r"\([^()]*\)")
_POLICY_IN_COMMENT = re.compile(r"\bp=(none|quarantine|reject)\b", re.IGNORECASE)
STAFF_BASES = ("dmarc", "dkim")


@dataclass(frozen=True)
class AuthResult:
    method: str
    result: str
    properties: dict[str, str]
    comment: str = ""


def authserv_id(value: str) -> str:
    head = _COMMENT.sub(" ", " ".join(value.split())).split(";", 1)[0].split()
    return head[0].lower() if head else ""


def parse_authentication_results(value: str) -> tuple[str, tuple[AuthResult, ...]]:
    """(authserv-id, results) from one header value; unknown shapes give no results."""
    value = " ".join(value.split())
    parts = [p.strip() for p in value.split(";")]
    if not parts or not parts[0]:
        return "", ()
    results = []
    for part in parts[1:]:
        comment = " ".join(_COMMENT.findall(part))
        tokens = _COMMENT.sub(" ", part).split()
        if not tokens or "=" not in tokens[0]:
            continue
        method, _, result = tokens[0].partition("=")
        props = {}
        for token in tokens[1:]:
            key, sep, val = token.partition("=")
            if sep:
                props[key.lower()] = val.strip('"').lower()
        results.append(AuthResult(method.lower(), result.lower(), props, comment))
    return authserv_id(parts[0]), tuple(results)


def no_single_author(count: int) -> Verdict:
    """DMARC cannot apply to mail with no author or several (RFC 7489 6.6.1)."""
    what = "no From address" if count == 0 else f"{count} From addresses"
    return Verdict("fail", f"{what}: no single author to verify", checked=True)


def verdict_from_headers(
    auth_results: tuple[str, ...], trusted_ids: tuple[str, ...], from_domain: str
) -> Verdict:
    """The verdict our border MTA reported for `from_domain` (trusted-headers mode)."""
    if not trusted_ids:
        return Verdict("none", "no trusted authserv-id configured", from_domain)
    if not auth_results:
        return Verdict(
            "none", "no Authentication-Results from our border", from_domain, checked=True
        )
    server, results = parse_authentication_results(auth_results[0])
    if server not in {t.lower() for t in trusted_ids}:
        return Verdict(
            "none", f"Authentication-Results from untrusted {server!r}", from_domain, checked=True
        )
    domain = from_domain.lower()
    facts = dmarc.Facts(
        from_domain=domain,
        dkim=tuple((_signer(r), r.result) for r in results if r.method == "dkim" and _signer(r)),
        spf=_spf(results),
    )
    for item in results:
        if item.method == "dmarc" and item.properties.get("header.from", "") == domain:
            policy = _policy(item)
            if item.result == "pass":
                return Verdict(
                    "pass", f"dmarc=pass for {domain} ({server})", domain, "dmarc", policy, True
                )
            if item.result in ("fail", "quarantine", "reject"):
                why = f"dmarc=fail for {domain} (p={policy or 'unknown'}) ({server})"
                return Verdict("fail", why, domain, "", policy, True)
    verdict = dmarc.evaluate(facts)
    return Verdict(
        verdict.result, f"{verdict.why} ({server})", domain, verdict.basis, verdict.policy, True
    )


def _signer(item: AuthResult) -> str:
    signer = item.properties.get("header.d", "") or item.properties.get("header.i", "")
    return signer.rpartition("@")[2]


def _spf(results: tuple[AuthResult, ...]) -> tuple[str, str]:
    for item in results:
        if item.method == "spf":
            return item.properties.get("smtp.mailfrom", "").rpartition("@")[2], item.result
    return "", "none"


def _policy(item: AuthResult) -> str:
    for key in ("policy.dmarc", "policy.published-domain-policy", "p"):
        if item.properties.get(key) in dmarc.POLICIES:
            return item.properties[key]
    found = _POLICY_IN_COMMENT.search(item.comment)
    return found.group(1).lower() if found else ""


def staff_verdict(verdict: Verdict, staff_domain: str, *, insecure_trust_from: bool = False):
    """Pass only on DMARC pass, or a DKIM pass aligned with the staff member's domain."""
    if insecure_trust_from:
        return Verdict(
            "pass",
            "insecure_trust_staff_from is on: From trusted as is",
            staff_domain,
            "insecure",
            "",
            True,
        )
    domain = staff_domain.lower()
    if verdict.verified and verdict.basis in STAFF_BASES and verdict.domain == domain:
        return verdict
    result = "fail" if verdict.result == "pass" else verdict.result
    return Verdict(
        result,
        f"no DMARC or aligned DKIM pass for {domain}: {verdict.why}",
        domain,
        "",
        verdict.policy,
        verdict.checked,
    )
