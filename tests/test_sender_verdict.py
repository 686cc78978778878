"""The sender verdict, table-driven: verify mode over an in-memory zone with our own keys,
trusted-headers mode over border headers, and the border's removal of foreign headers."""

from __future__ import annotations

import pytest
from conftest import mail
from mailauth import Zone, private_key, sign
from trustkit import raw, zone

from gateway.core import border, parse, trust
from gateway.core.dmarc import Facts, Record, evaluate, org_domain, parse_record
from gateway.core.model import Envelope, Verdict
from gateway.sender_auth import Authenticator

ALICE = "alice@customer.example"


def verdict(data: bytes, mail_from: str, peer="127.0.0.1", dns: Zone | None = None) -> Verdict:
    parsed = parse.parse(data, "<x@test>")
    envelope = Envelope(mail_from, ("support@support.example",), peer)
    return Authenticator("verify", (), dns or zone()).verdict(data, parsed, envelope)


def signed_by(domain: str, key: str, sender: str = ALICE) -> bytes:
    return sign(raw(mail(sender=sender)), domain, private_key(key))


CASES = [
    # (name, raw bytes, envelope sender, peer, result, basis, policy)
    ("aligned DKIM", lambda: signed_by("customer.example", "customer"), "x@evil.example",
     "10.9.9.9", "pass", "dmarc", "reject"),
    ("aligned SPF only", lambda: raw(mail()), ALICE, "127.0.0.1", "pass", "dmarc", "reject"),
    ("SPF from the wrong IP", lambda: raw(mail()), ALICE, "10.9.9.9", "fail", "", "reject"),
    ("DKIM of another domain", lambda: signed_by("evil.example", "evil"), "x@evil.example",
     "127.0.0.1", "fail", "", "reject"),
    ("DKIM key that does not match", lambda: signed_by("customer.example", "evil"),
     "x@evil.example", "127.0.0.1", "fail", "", "reject"),
    ("no DMARC, nothing aligned", lambda: raw(mail(sender="eve@nodmarc.example")),
     "eve@nodmarc.example", "127.0.0.1", "none", "", ""),
    ("p=none and failing", lambda: raw(mail(sender="eve@weak.example")), "eve@weak.example",
     "127.0.0.1", "fail", "", "none"),
    ("no DMARC but aligned DKIM", lambda: signed_by("saas.example", "saas", "n@saas.example"),
     "", "", "pass", "dkim", ""),
    ("subdomain signed by its organisation", lambda: signed_by(
        "customer.example", "customer", "bob@eu.customer.example"), "", "", "pass", "dmarc",
     "reject"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_verify_mode(case):
    _, make, mail_from, peer, result, basis, policy = case
    found = verdict(make(), mail_from, peer)
    assert (found.result, found.basis, found.policy) == (result, basis, policy), found.why
    assert found.checked


def test_tampered_body_breaks_dkim_and_says_so():
    data = signed_by("customer.example", "customer").replace(b"My site", b"Your site")
    found = verdict(data, "x@evil.example", "10.9.9.9")
    assert found.result == "fail" and "dkim=fail d=customer.example" in found.why


def test_dns_failure_leaves_the_sender_unverified_not_failed():
    dns = zone()
    dns.broken.add("_dmarc.customer.example")
    found = verdict(raw(mail()), "x@evil.example", "10.9.9.9", dns)
    assert found.result == "none" and "DMARC lookup failed" in found.why


def test_several_authors_cannot_be_verified():
    data = raw(mail(sender=f"{ALICE}, x@evil.example"))
    found = verdict(data, ALICE)
    assert found.result == "fail" and "2 From addresses" in found.why


def test_dmarc_records_and_organisational_domains():
    assert parse_record(["v=DMARC1; p=quarantine; sp=reject; adkim=s"]) == Record(
        "quarantine", "reject", "s", "r"
    )
    assert parse_record(["v=DMARC1; p=reject", "v=DMARC1; p=none"]) is None  # two: none
    assert parse_record(["v=spf1 -all"]) is None
    assert parse_record(["v=DMARC1; p=bogus; rua=mailto:x@y"]).policy == "none"
    assert org_domain("mail.eu.example.co.uk") == "example.co.uk"
    strict = Facts("eu.customer.example", dkim=(("customer.example", "pass"),),
                   record=Record("reject", "quarantine", adkim="s"),
                   record_domain="customer.example")  # fmt: skip
    found = evaluate(strict)
    assert (found.result, found.policy) == ("fail", "quarantine")  # sp= for a subdomain


BORDER = "mx.support.example"


@pytest.mark.parametrize(
    "header, result, basis, policy",
    [
        (f"{BORDER}; dmarc=pass header.from=customer.example", "pass", "dmarc", ""),
        (f"{BORDER}; dkim=pass header.d=customer.example; dmarc=none", "pass", "dkim", ""),
        (f"{BORDER}; spf=pass smtp.mailfrom=a@customer.example", "pass", "spf", ""),
        (f"{BORDER}; dkim=pass header.d=evil.example", "none", "", ""),
        (f"{BORDER}; dmarc=fail (p=QUARANTINE dis=NONE) header.from=customer.example", "fail",
         "", "quarantine"),
        (f"{BORDER}; dmarc=pass header.from=evil.example", "none", "", ""),
        ("mx.evil.example; dmarc=pass header.from=customer.example", "none", "", ""),
    ],
)  # fmt: skip
def test_trusted_headers_mode(header, result, basis, policy):
    found = trust.verdict_from_headers((header,), (BORDER,), "customer.example")
    assert (found.result, found.basis, found.policy) == (result, basis, policy), found.why


def test_staff_need_dmarc_or_aligned_dkim_for_their_own_domain():
    spf_only = Verdict("pass", "spf", "support.example", "spf", "", True)
    assert trust.staff_verdict(spf_only, "support.example").result == "fail"
    dkim = Verdict("pass", "dkim", "support.example", "dkim", "", True)
    assert trust.staff_verdict(dkim, "support.example").verified
    other = Verdict("pass", "dmarc", "customer.example", "dmarc", "reject", True)
    assert not trust.staff_verdict(other, "support.example").verified


def test_border_keeps_only_the_topmost_trusted_header_and_strips_our_namespace():
    data = (
        f"Authentication-Results: {BORDER}; dmarc=fail header.from=customer.example\r\n"
        f"Authentication-Results: {BORDER}; dmarc=pass header.from=customer.example\r\n"
        "X-Gateway-Ticket-Id: 7\r\nX-Gateway-Internal: yes\r\nX-Gateway-Loop: support.example\r\n"
    ).encode() + raw(mail())
    parsed = parse.parse(data, "<x@test>")
    assert parsed.removed_headers == ("X-Gateway-Ticket-Id", "X-Gateway-Internal")
    assert parsed.auto.loop_header  # our loop header only ever lowers trust: kept as a signal
    kept = border.keep_trusted_results(parsed, (BORDER,))
    assert kept.auth_results == (f"{BORDER}; dmarc=fail header.from=customer.example",)
    assert border.keep_trusted_results(parsed, ()).auth_results == ()
    untrusted = border.keep_trusted_results(parsed, ("mx.other.example",))
    assert (
        untrusted.auth_results == ()
        and untrusted.removed_headers.count("Authentication-Results") == 2
    )
