"""Recognise a customer's privacy request in a mail: export (a copy of their data), correct
(their name or language) or erase, in simple English or French phrasings.

A mail is a privacy request when its subject carries a keyword ("[privacy]", "GDPR", "RGPD",
"données personnelles") or its first lines use one of the phrasings below; the kind is read from
the phrasings (erasure first, then correction, then export) and is "unspecified" when only the
keyword is there. Recognising a request only tells staff: nothing is done without their approval.
"""

from __future__ import annotations

import re
import unicodedata

KINDS = ("erase", "correct", "export")
_SUBJECT = re.compile(r"\[privacy\]|\bgdpr\b|\brgpd\b|donnees personnelles|personal data", re.I)
_PHRASES = {
    "erase": (
        "delete my data", "erase my data", "delete my personal data", "erase my personal data",
        "remove my data", "remove my personal data", "delete my account", "delete all my data",
        "right to be forgotten", "right to erasure", "forget me",
        "supprimer mes donnees", "effacer mes donnees", "suppression de mes donnees",
        "effacement de mes donnees", "supprimer toutes mes donnees", "supprimer mon compte",
        "droit a l'oubli", "droit a l'effacement",
    ),
    "correct": (
        "correct my name", "update my name", "change my name", "my name is misspelled",
        "change my language", "update my language", "rectify my", "rectification of my",
        "corriger mon nom", "modifier mon nom", "changer mon nom", "rectifier mon",
        "rectification de mon", "rectification de mes", "changer ma langue", "changer de langue",
    ),
    "export": (
        "copy of my data", "copy of my personal data", "export my data", "access to my data",
        "access to my personal data", "data portability", "subject access request",
        "what data you hold", "what personal data you hold",
        "copie de mes donnees", "exporter mes donnees", "acces a mes donnees",
        "portabilite de mes donnees", "droit d'acces", "quelles donnees vous detenez",
    ),
}  # fmt: skip
_FIRST_LINES = 40


def detect(subject: str, text: str) -> str | None:
    """The kind of request ("erase", "correct", "export", "unspecified"), or None."""
    head = "\n".join(text.splitlines()[:_FIRST_LINES])
    flat = _fold(f"{subject}\n{head}")
    for kind in KINDS:
        if any(phrase in flat for phrase in _PHRASES[kind]):
            return kind
    return "unspecified" if _SUBJECT.search(_fold(subject)) else None


def _fold(text: str) -> str:
    """Lower case, accents off, typographic apostrophes plain, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.lower().split())
