"""Everything about one inbound mail that needs no database: its parse, its card numbers
masked (invariant 7), the copy of its raw bytes safe to keep, its author's own words and
whether it asks about personal data.

It runs in the parser's child process, beside the other cores' work, so the processor's write
transaction only applies what was read here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.core import card_mail, privacy_request, quotes
from gateway.core.model import ParsedMail
from gateway.core.parse import parse


@dataclass(frozen=True)
class Reading:
    mail: ParsedMail  # card numbers and security codes already masked
    cards: int = 0  # card numbers masked in the body, subject and attachments
    codes: int = 0  # security codes masked
    header_cards: int = 0  # card numbers in the raw header fields
    kept_raw: bytes | None = None  # the masked raw copy when a number was found, else None
    original_sha256: str = ""
    own_words: quotes.NewText | None = None  # the new text of the (masked) mail
    privacy_kind: str | None = None  # "export", "erase" ... when it asks about personal data
    removed_files: int = 0  # attachments not kept: a PDF holding a card number

    @property
    def found(self) -> bool:
        return bool(self.cards or self.codes or self.header_cards)


def read_mail(raw: bytes, message_id: str) -> Reading:
    """Parse `raw` and mask what must never be stored or echoed."""
    finding = card_mail.redact_mail(parse(raw, message_id))
    mail = finding.mail
    header_found = card_mail.header_cards(raw)
    found = finding.any or header_found > 0
    own_words = quotes.extract(mail.text, mail.html)
    return Reading(
        mail,
        finding.found,
        finding.codes,
        header_found,
        card_mail.redacted_raw(raw, mail) if found else None,
        hashlib.sha256(raw).hexdigest(),
        own_words,
        privacy_request.detect(mail.subject, own_words.text),
        finding.removed,
    )
