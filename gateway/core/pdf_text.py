"""The text of a PDF, to look for card numbers in it (invariant 7).

A PDF keeps its text in compressed content streams that no scan of the bytes can read; pypdf
decodes them. It runs in the parser's child process, whose deadline and memory cap hold for a
hostile file; here a page budget keeps an honest but long file inside that deadline. A file
pypdf cannot open, or that asks for a password, is reported unreadable rather than guessed at.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

MAX_PAGES = 200
# pypdf reports a malformed file at WARNING, with object numbers and at times the text near
# the fault: a customer's document has no place in the log (case 49), and a failure is ours
# to report.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class PdfText:
    text: str
    complete: bool  # every page was read


def looks_like_pdf(content_type: str, filename: str, data: bytes) -> bool:
    """Declared a PDF, named one, or starting like one (the marker may follow some junk)."""
    return (
        "pdf" in content_type.lower()
        or filename.lower().endswith(".pdf")
        or b"%PDF-" in data[:1024]
    )


def pdf_text(data: bytes) -> PdfText | None:
    """The text of each page, up to MAX_PAGES; None when the file cannot be read."""
    from pypdf import PdfReader  # only mail with a PDF pays for the import

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return None  # a password we do not have: nothing can be read
        pages = []
        for number, page in enumerate(reader.pages):
            if number == MAX_PAGES:
                return PdfText("\n".join(pages), complete=False)
            pages.append(page.extract_text() or "")
        return PdfText("\n".join(pages), complete=True)
    except Exception:  # any fault of a broken or hostile file means it cannot be read
        return None
