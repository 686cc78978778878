"""What the command line accepts as a name or an address: the rules the contacts importer
applies to a CSV row, for values typed on the command line (research case 32).

A name goes into mail headers (`From: Sam Agent <...>`, a department in a subject); a line
break in it is refused where it is typed, not only neutralised where mail is written.
"""

from __future__ import annotations

import argparse

from gateway.contacts_import import MAX_LENGTH, is_address

_BREAKS = ("\r", "\n", "\x00", "\u2028", "\u2029", "\x85")


def one_line(value: str) -> str:
    """A name: one line of at most 200 characters, not empty."""
    if any(mark in value for mark in _BREAKS):
        raise argparse.ArgumentTypeError("a name must be one line (it contains a line break)")
    if not value.strip() or len(value) > MAX_LENGTH["name"]:
        raise argparse.ArgumentTypeError(f"a name must have 1 to {MAX_LENGTH['name']} characters")
    return value.strip()


def address(value: str) -> str:
    """An e-mail address as the importer accepts one, lowercased."""
    if not is_address(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an e-mail address")
    return value.lower()
