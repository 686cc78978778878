"""What the words around a number say about it: labelled as something else ("Commande n°"),
next to a card word ("ma carte"), or a security-code label ("CVV", "cryptogramme").

French and English, as customers write them; used by cards.py to tell a card number from a
look-alike that passes Luhn by chance.
"""

from __future__ import annotations

import re

# A number right after one of these labels is that thing, not a card ("Commande n° ...").
# Words a customer may put just before a card ("compte", "transaction") are left out.
_OTHER_LABEL = re.compile(
    r"\b(?:commande|order|facture|invoice|avoir|suivi|tracking|colis|parcel|envoi|shipment|"
    r"livraison|delivery|siret|siren|tva|vat|iban|bic|rib|t[ée]l[ée]phone|t[ée]l|phone|"
    r"mobile|portable|fax|imei|iccid|sim|ticket|dossier|contrat|contract|client|customer|"
    r"r[ée]f[ée]rence|r[ée]f|s[ée]rie|serial|ean|gtin|barcode|code[- ]barres?|nir|"
    r"s[ée]curit[ée] sociale|vitale|adh[ée]rent|licen[cs]e)s?"
    r"[\W_]*(?:(?:n[°ºo]|num[ée]ro|number|nr|num|no|id|de|du|d'|of|the|#)[\W_]*){0,3}$",
    re.IGNORECASE,
)
# Upper-case letters glued to the digits make them the tail of a code ("JJD0034...", "FA2024").
_GLUED = re.compile(r"[A-Za-z]+$")
_CARD_TOKENS = ("cb", "visa", "amex", "mc", "card", "carte")
# Words that make a number outside the known brand ranges worth masking anyway.
_CARD_WORD = re.compile(
    r"\b(?:cartes?(?! (?:sim|vitale|grise|d'identit|de fid[ée]lit))|cards?(?! sim)|cb|visa|"
    r"master ?card|amex|american express|discover|jcb|diners|union ?pay|maestro|cvv2?|cvc2?|"
    r"cryptogramme|expir\w*|exp|valid thru)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
# Labels of what must never be kept beside a card: its security code (CVV2, CVC2, CID) or a
# PIN. Lower-case "cid" is left out: Outlook writes "[cid:image001.png]" in plain text.
CODE_LABEL = re.compile(
    r"\b(?:cvv2?|cvc2?|cvn2?|csc|cav2|(?-i:CID)|cryptogramme(?:\s+visuel)?|crypto|"
    r"code\s+(?:de\s+)?s[ée]curit[ée]|security\s+code|card\s+verification(?:\s+\w+)?|"
    r"code\s+(?:pin|secret|confidentiel)|pin(?:\s+code)?)\b",
    re.IGNORECASE,
)


def labelled_other(text: str, start: int) -> bool:
    """The number at `start` is labelled as an order, phone, IBAN... or glued to a code."""
    if _OTHER_LABEL.search(text, max(0, start - 48), start):
        return True
    glued = _GLUED.search(text, max(0, start - 12), start)
    return bool(glued and glued.group().isupper() and glued.group().lower() not in _CARD_TOKENS)


def near_card_word(text: str, start: int, end: int) -> bool:
    """A card word just before the number, or just after it, with no other number between."""
    before = None
    for before in _CARD_WORD.finditer(text, max(0, start - 60), start):  # noqa: B007
        pass
    if before is not None and not _DIGIT.search(text, before.end(), start):
        return True
    after = _CARD_WORD.search(text, end, min(len(text), end + 30))
    return after is not None and not _DIGIT.search(text, end, after.start())
