"""Complaint rules that need no database: the duty rota and the keyword suggestion.

A keyword match only suggests a complaint to staff (they confirm with `/complaint`); words are
compared without case or accents, whole words only, so "plainte" matches "Plainte" but not
"complainte".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from gateway.core import sla


@dataclass(frozen=True)
class RotaEntry:
    """The manager on duty while `hours` is open (same words as the SLA opening hours)."""

    hours: sla.Calendar
    email: str


def parse_rota(entries: tuple[str, ...], timezone: str) -> tuple[RotaEntry, ...]:
    """Entries like "mon-fri 08:00-20:00=alice@example.com" or "sat,sun=bob@example.com"."""
    rota = []
    for entry in entries:
        hours, equals, email = entry.rpartition("=")
        email = email.strip().lower()
        if not equals or "@" not in email:
            raise ValueError(f"expected 'HOURS=MANAGER-ADDRESS', got {entry!r}")
        windows = sla.parse_hours((hours.strip(),))
        rota.append(RotaEntry(sla.Calendar(timezone, windows), email))
    return tuple(rota)


def on_duty(rota: tuple[RotaEntry, ...], moment: datetime) -> str | None:
    """The address of the first rota entry open at `moment`, if any."""
    for entry in rota:
        if entry.hours.is_open(moment):
            return entry.email
    return None


def round_robin(managers: list[tuple[int, datetime | None]]) -> int | None:
    """Of (manager id, when they last took a complaint), the one who waited longest."""
    if not managers:
        return None
    never = [m for m, last in managers if last is None]
    if never:
        return min(never)
    return min(managers, key=lambda item: (item[1], item[0]))[0]


def fold(text: str) -> str:
    """Lowercase without accents: "Réclamation" -> "reclamation"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def keyword_match(text: str, keywords: tuple[str, ...]) -> str | None:
    """The first configured keyword (or phrase) found as whole words in `text`."""
    folded = fold(text)
    for keyword in keywords:
        words = fold(keyword).split()
        if words and re.search(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", folded):
            return keyword
    return None
