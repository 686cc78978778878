"""Everything about one inbound mail that needs no database: its parse, its card numbers
masked (invariant 7) and the copy of its raw bytes safe to keep.

It runs in the parser's child process, beside the other cores' work, so the processor's write
transaction only applies what was read here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from gateway.core import card_mail
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

    @property
    def found(self) -> bool:
        return bool(self.cards or self.codes or self.header_cards)


def read_mail(raw: bytes, message_id: str) -> Reading:
    """Parse `raw` and mask what must never be stored or echoed."""
    finding = card_mail.redact_mail(parse(raw, message_id))
    header_found = card_mail.header_cards(raw)
    found = finding.any or header_found > 0
    return Reading(
        finding.mail,
        finding.found,
        finding.codes,
        header_found,
        card_mail.redacted_raw(raw, finding.mail) if found else None,
        hashlib.sha256(raw).hexdigest(),
    )
