"""Whether a From header names its author beyond doubt: two parsers must read it alike.

`email.utils.getaddresses` on Python 3.11 has no strict mode (CVE-2023-27043): it reads
`a@evil@ourco` as `@ourco`, and `a@evil)<b@ourco>` as two addresses where a mail client may
show one. The standard library's header registry reads addresses by RFC 5322's grammar
(decoding an encoded word where a lenient reader keeps it as part of the address). A From whose
addresses the two read differently names no author anyone may trust: the mail is held, never
elevated. Defects in a display name alone (an encoded word inside quotes) change no address.
"""

from __future__ import annotations

import re
from email.headerregistry import HeaderRegistry

from gateway.core.model import Address

_REGISTRY = HeaderRegistry()
_FOLD = re.compile(r"\r?\n(?=[ \t])")  # a long field goes on, indented, on the next line


def ambiguous(values: list[str], found: tuple[Address, ...]) -> bool:
    """True when the strict reading of these From values gives other addresses than `found`
    (the ones `getaddresses` gave, lowercased), or none it can read."""
    strict: list[str] = []
    for value in values:
        try:
            header = _REGISTRY("from", _FOLD.sub("", value))  # unfolded (RFC 5322 2.2.3)
        except Exception:  # the strict parser failing is itself a doubt
            return True
        strict.extend(address.addr_spec.lower() for address in header.addresses)
    return sorted(strict) != sorted(address.email for address in found)
