"""Addresses with letters outside ASCII, shown so that a person can tell them apart (research
case 12): `agent@suppοrt.example` with a Greek omicron reads as our own domain. Where people
judge a sender (the held list, the morning digest) such an address is followed by its ASCII
form, and a manager's `/contact add` by mail refuses it (the command line can still add a
real internationalised address, on purpose).
"""

from __future__ import annotations


def ascii_form(address: str) -> str | None:
    """The address with its domain in IDNA (punycode) and other letters escaped, or None when
    it is plain ASCII already."""
    if address.isascii():
        return None
    local, at, domain = address.rpartition("@")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDNA name: every letter escaped instead
        domain = domain.encode("ascii", "backslashreplace").decode("ascii")
    local = local.encode("ascii", "backslashreplace").decode("ascii")
    return f"{local}{at}{domain}" if at else domain


def shown(address: str) -> str:
    """The address as a person should see it where they decide who it is."""
    plain = ascii_form(address)
    return address if plain is None else f"{address} [not plain ASCII: {plain}]"
