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
# The From of nearly every mail: a dot-atom address alone or in angle brackets after a name of
# plain words (encoded words among them; no dots, which the strict parser stumbles on) or a
# quoted string without escapes. Both parsers read
# these alike by construction, so the strict one (a twentieth of reading a mail) is spared.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_ADDRESS = rf"{_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_NAME = r'"[^"\\\r\n]*"|[A-Za-z0-9!#$%&\'*+/=?^_`{|}~ \t-]*'
_PLAIN_FROM = re.compile(rf"[ \t]*(?:(?:{_NAME})[ \t]*<({_ADDRESS})>|({_ADDRESS}))[ \t]*")


def ambiguous(values: list[str], found: tuple[Address, ...]) -> bool:
    """True when the strict reading of these From values gives other addresses than `found`
    (the ones `getaddresses` gave, lowercased), or none it can read."""
    if len(values) == 1 and len(found) == 1 and _plain(values[0], found[0].email):
        return False
    strict: list[str] = []
    for value in values:
        try:
            header = _REGISTRY("from", _FOLD.sub("", value))  # unfolded (RFC 5322 2.2.3)
        except Exception:  # the strict parser failing is itself a doubt
            return True
        strict.extend(address.addr_spec.lower() for address in header.addresses)
    return sorted(strict) != sorted(address.email for address in found)


def _plain(value: str, address: str) -> bool:
    """`value` is a plain From naming `address`, and no encoded word hides in the address."""
    plain = _PLAIN_FROM.fullmatch(_FOLD.sub("", value))
    if plain is None:
        return False
    named = (plain[1] or plain[2]).lower()
    return named == address and "=?" not in named
