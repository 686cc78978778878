"""Attack: attachment names that lie (research case 36): a right-to-left override turning
"invoice<RLO>fdp.exe" into what reads as "invoiceexe.pdf", and a name of 10,000 characters.
Staff see the name as it really ends, at most 255 characters, with no bidi control."""

from __future__ import annotations

from conftest import mail
from sqlmodel import select
from trustkit import AGENT, ALICE, send

from gateway.store.tables import Attachment

LIAR = "invoice\u202efdp.exe"
LONG = "a" * 10_000 + ".pdf"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"


def test_a_name_that_lies_reaches_staff_as_it_really_ends(verifying):
    gw = verifying
    sent = mail(body="Two files.")
    sent.add_attachment(b"MZ not really", maintype="application", subtype="octet-stream",
                        filename=LIAR)  # fmt: skip
    sent.add_attachment(b"%PDF-1.4 short", maintype="application", subtype="pdf", filename=LONG)
    send(gw, sent, ALICE)
    with gw.db.read() as session:
        stored = sorted(a.filename for a in session.exec(select(Attachment)))
    notified = sorted(p.get_filename() for p in gw.sink.to(AGENT)[-1].message.iter_attachments())
    for names in (stored, notified):
        assert names[1] == "invoicefdp.exe"  # the real extension, in plain sight
        assert names[0] == ("a" * 10_000 + ".pdf")[:255]
        assert not any(mark in name for name in names for mark in BIDI)
