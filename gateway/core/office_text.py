"""The text of an office document (Word, Excel, PowerPoint, OpenDocument), to look for card
numbers in it (invariant 7).

These files are zip archives of XML. Only the parts that hold the document's text are read,
each within a size cap checked before and while inflating it, so a zip bomb is refused, not
expanded (research case 37); an archive inside the archive is never opened. Tags are dropped,
with a blank line where a paragraph, row or cell ends, so digits of two cells do not join.
"""

from __future__ import annotations

import io
import re
import zipfile

_TEXT_PARTS = re.compile(
    r"word/(?:document|header\d*|footer\d*|footnotes|endnotes|comments)\.xml"
    r"|xl/sharedStrings\.xml|xl/worksheets/sheet\d+\.xml|ppt/slides/slide\d+\.xml"
    r"|ppt/notesSlides/notesSlide\d+\.xml|content\.xml"
)
_OFFICE_TYPES = ("officedocument", "opendocument", "msword", "ms-excel", "ms-powerpoint")
_OFFICE_NAMES = (".docx", ".xlsx", ".pptx", ".docm", ".xlsm", ".odt", ".ods", ".odp")
MAX_PART = 10 << 20  # bytes of XML read from one part
MAX_TOTAL = 40 << 20  # from the whole document
_ENDS = re.compile(
    rb"</(?:w:p|w:tr|w:tc|a:p|text:p|text:h|table:table-cell|table:table-row|c|row|si)>"
    rb"|<w:(?:tab|br|cr)/>"
)
_TAG = re.compile(rb"<[^>]*>")
_ENTITIES = {b"&lt;": b"<", b"&gt;": b">", b"&quot;": b'"', b"&apos;": b"'", b"&amp;": b"&"}


def looks_like_office(content_type: str, filename: str, data: bytes) -> bool:
    kind, name = content_type.lower(), filename.lower()
    return data[:4] == b"PK\x03\x04" and (
        any(word in kind for word in _OFFICE_TYPES) or name.endswith(_OFFICE_NAMES)
    )


def office_text(data: bytes) -> str | None:
    """The text of the document's text parts; None when it cannot be read within the caps."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = [i for i in archive.infolist() if _TEXT_PARTS.fullmatch(i.filename)]
            if not parts or sum(i.file_size for i in parts) > MAX_TOTAL:
                return None
            texts = []
            for info in parts:
                if info.file_size > MAX_PART:
                    return None
                with archive.open(info) as member:
                    xml = member.read(MAX_PART + 1)  # the declared size may lie
                if len(xml) > MAX_PART:
                    return None
                texts.append(_plain(xml))
            return "\n".join(texts)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError):  # fmt: skip
        return None  # broken, encrypted or in a compression we do not read


def _plain(xml: bytes) -> str:
    text = _TAG.sub(b"", _ENDS.sub(b"\n\n", xml))  # a blank line: no number spans it
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    return text.decode("utf-8", "replace")
