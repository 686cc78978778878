"""Small real PDFs for tests: one page of Helvetica text, its content stream compressed or
not, with a correct cross-reference table, as a word processor's "save as PDF" writes one."""

from __future__ import annotations

import zlib


def _escape(line: str) -> bytes:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def text_ops(*lines: str) -> bytes:
    """Content-stream operators that show each line below the one before."""
    shown = b" 0 -16 Td ".join(b"(" + _escape(line) + b") Tj" for line in lines)
    return b"BT /F1 12 Tf 72 720 Td " + shown + b" ET"


def pdf(ops: bytes, compress: bool = True, deflated: bytes | None = None) -> bytes:
    """`deflated`: a content stream compressed already (a bomb is built without its bytes)."""
    stream = deflated if deflated is not None else zlib.compress(ops) if compress else ops
    flate = b"/Filter /FlateDecode " if compress or deflated is not None else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        b" /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< " + flate + b"/Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def text_pdf(*lines: str, compress: bool = True) -> bytes:
    return pdf(text_ops(*lines), compress)


def bomb_pdf(mebibytes: int, text: str) -> bytes:
    """A page whose content stream inflates to `mebibytes` of blanks after `text`."""
    packer = zlib.compressobj(9)
    parts = [packer.compress(b"BT /F1 12 Tf 72 712 Td (" + _escape(text) + b") Tj ET\n")]
    blanks = b" " * (1 << 20)
    parts.extend(packer.compress(blanks) for _ in range(mebibytes))
    parts.append(packer.flush())
    return pdf(b"", deflated=b"".join(parts))


def docx(*paragraphs: str) -> bytes:
    """A Word document as Word writes its text: runs inside paragraphs, in a zip."""
    import io
    import zipfile

    body = "".join(
        "<w:p>" + "".join(f"<w:r><w:t>{run}</w:t></w:r>" for run in text.split("|")) + "</w:p>"
        for text in paragraphs
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(
            "word/document.xml",
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>",
        )
    return out.getvalue()


def xml_bomb_docx(mebibytes: int) -> bytes:
    """A document whose text part inflates to `mebibytes` of blanks."""
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b" " * (mebibytes << 20))
    return out.getvalue()
