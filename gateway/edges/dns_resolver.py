"""The real DNS behind the `Resolver` port of `sender_auth` (dnspython, system resolvers).

Answers are short-lived facts of the outside world, so nothing is cached here beyond what the
system resolver does. A missing name or record is an empty answer; a timeout or a server
failure becomes `DnsTemporaryError`, so a check is reported as unknown rather than failed.
"""

from __future__ import annotations

import dns.exception
import dns.resolver

from gateway.sender_auth import DnsTemporaryError


class DnsResolver:
    def __init__(self, timeout: float = 5.0):
        self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = timeout

    def lookup(self, name: str, rdtype: str) -> list:
        try:
            answer = self._resolver.resolve(name, rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as error:
            raise DnsTemporaryError(f"{rdtype} {name}: {error}") from error
        except dns.exception.DNSException as error:
            raise DnsTemporaryError(f"{rdtype} {name}: {error}") from error
        if rdtype in ("TXT", "SPF"):
            return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
        if rdtype == "MX":
            return [(r.preference, r.exchange.to_text(omit_final_dot=True)) for r in answer]
        if rdtype == "PTR":
            return [r.target.to_text(omit_final_dot=True) for r in answer]
        return [r.address for r in answer]
