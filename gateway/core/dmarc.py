"""DMARC (RFC 7489) from facts already gathered: records, alignment and the verdict.

Checking signatures and SPF needs DNS and lives outside the core; this module only judges.
A verdict passes on an aligned DKIM or SPF pass: with a DMARC record that is a DMARC pass;
without one it is the same identifier alignment DMARC would require, so a domain that
publishes no policy can still prove its mail.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

from gateway.core.model import Verdict

POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class Record:
    policy: str  # p=, for the domain that published it
    subdomain_policy: str  # sp= (defaults to p=)
    adkim: str = "r"  # r (relaxed) | s (strict)
    aspf: str = "r"


@dataclass(frozen=True)
class Facts:
    """What the checks found for one message, for the single From domain."""

    from_domain: str
    dkim: tuple[tuple[str, str], ...] = ()  # (signing domain d=, pass | fail | ...)
    spf: tuple[str, str] = ("", "none")  # (envelope domain, pass | fail | softfail | ...)
    record: Record | None = None
    record_domain: str = ""  # where the record was found (From domain or its org domain)
    problems: tuple[str, ...] = ()  # lookups that failed, for the explanation


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # reference data shipped with the package, read once


def org_domain(domain: str) -> str:
    """The Organizational Domain (RFC 7489 3.2): the registrable part, from the PSL."""
    domain = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(domain) or domain


def aligned(auth_domain: str, from_domain: str, mode: str = "r") -> bool:
    auth_domain, from_domain = auth_domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not auth_domain or not from_domain:
        return False
    if mode == "s":
        return auth_domain == from_domain
    return org_domain(auth_domain) == org_domain(from_domain)


def parse_record(texts: list[str]) -> Record | None:
    """The one `v=DMARC1` record among TXT strings; none, several or broken give None."""
    found = [t for t in texts if t.strip().lower().startswith("v=dmarc1")]
    if len(found) != 1:
        return None  # RFC 7489 6.6.3: several records are treated as none
    tags = {}
    for part in found[0].split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = value.strip().lower()
    policy = tags.get("p", "")
    if policy not in POLICIES:
        # 6.6.3: an invalid p= with a rua= still counts, as p=none
        if "rua" not in tags:
            return None
        policy = "none"
    sub = tags.get("sp", policy)
    return Record(
        policy=policy,
        subdomain_policy=sub if sub in POLICIES else policy,
        adkim="s" if tags.get("adkim") == "s" else "r",
        aspf="s" if tags.get("aspf") == "s" else "r",
    )


def applicable_policy(facts: Facts) -> str:
    if facts.record is None:
        return ""
    if facts.record_domain and facts.record_domain != facts.from_domain:
        return facts.record.subdomain_policy
    return facts.record.policy


def evaluate(facts: Facts) -> Verdict:
    """The verdict for the From domain: pass, fail (a policy exists and nothing aligned), or
    none (no policy and nothing aligned: the sender is simply unverified)."""
    domain = facts.from_domain
    record = facts.record
    adkim, aspf = (record.adkim, record.aspf) if record else ("r", "r")
    dkim_ok = [d for d, result in facts.dkim if result == "pass" and aligned(d, domain, adkim)]
    spf_domain, spf_result = facts.spf
    spf_ok = spf_result == "pass" and aligned(spf_domain, domain, aspf)
    policy = applicable_policy(facts)
    summary = _summary(facts)
    if dkim_ok or spf_ok:
        how = f"dkim d={dkim_ok[0]}" if dkim_ok else f"spf {spf_domain}"
        if record is not None:
            why = f"dmarc=pass for {domain} ({how} aligned, p={policy})"
            return Verdict("pass", why, domain, "dmarc", policy, True)
        basis = "dkim" if dkim_ok else "spf"
        why = f"{basis}=pass aligned with {domain} ({how}); no DMARC record"
        return Verdict("pass", why, domain, basis, "", True)
    if record is not None:
        why = f"dmarc=fail for {domain} (p={policy}): {summary}"
        return Verdict("fail", why, domain, "", policy, True)
    return Verdict(
        "none", f"unverified: no DMARC record for {domain}; {summary}", domain, "", "", True
    )


def _summary(facts: Facts) -> str:
    parts = [f"dkim={result} d={d}" for d, result in facts.dkim] or ["no DKIM signature"]
    spf_domain, spf_result = facts.spf
    parts.append(f"spf={spf_result}" + (f" {spf_domain}" if spf_domain else ""))
    parts.extend(facts.problems)
    return ", ".join(parts) + (" (none aligned)" if facts.dkim or spf_result == "pass" else "")
