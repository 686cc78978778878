"""Where a new ticket starts when the address it was sent to says nothing: the department whose
words its subject holds (`routing.keywords`), matched as whole words (or phrases), whatever
their case or accents: "invoice" finds "Invoice 118" but not "invoices", "reponse" finds
"RÉPONSE"."""

from __future__ import annotations

import re
import unicodedata


def by_keywords(subject: str, routes: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    """The departments whose words the subject holds, in the order they were configured."""
    if not routes:
        return []
    plain = _plain(subject)
    return [name for name, wanted in routes if any(_holds(plain, _plain(w)) for w in wanted)]


def _holds(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))
