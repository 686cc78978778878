"""What of a staff reply may reach the customer: HTML without quoted history, the files kept,
and the two guards that keep a reply internal (it quotes an internal note; it is too big to
send), with the words its author is told."""

from __future__ import annotations

import html as html_module
from dataclasses import replace

from gateway import inline_relay
from gateway.core.model import ParsedMail
from gateway.store import staffing


def quotes_internal_note(session, ticket_id: int, body: str) -> bool:
    """A last guard: a public reply that repeats a line of an internal note is not relayed.

    Quote stripping removes history in the usual shapes; this catches the unusual ones (a
    client that quotes without markers, a note pasted by hand).
    """
    flat = " ".join(body.split()).lower()
    for note in staffing.internal_texts(session, ticket_id):
        for line in note.splitlines():
            line = " ".join(line.split()).lower()
            if len(line) >= 12 and line in flat:
                return True
    return False


def relayable(mail: ParsedMail) -> ParsedMail:
    """The staff member's mail without the stand-ins for files not kept."""
    if not any(item.removed for item in mail.attachments):
        return mail
    return replace(mail, attachments=tuple(a for a in mail.attachments if not a.removed))


def relayed_html(mail: ParsedMail, body: str) -> tuple[str, tuple]:
    """The customer's HTML part and the files: the staff member's own HTML when it places
    inline images (cut to the new text `body`, so no quoted history survives), else HTML
    built from `body` with every file attached."""
    files = inline_relay.files(mail.attachments)
    shown = inline_relay.shown(mail.html, files, body)
    if shown is not None and shown.images:
        return _page(shown.html), shown.files
    return _html_from_text(body), inline_relay.plain_files(files)


def _html_from_text(text: str) -> str:
    """The customer's HTML part, built from the cleaned text (so no quoted history survives)."""
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return _page(
        "".join(
            "<p>" + html_module.escape(p).replace("\n", "<br>\n") + "</p>\n" for p in paragraphs
        )
    )


def _page(body: str) -> str:
    return f'<!DOCTYPE html>\n<html><body style="font-family: sans-serif">\n{body}</body></html>\n'


def too_big(size: int, limit: int) -> str:
    """Said to the author at once, where a refused mail would tell no one for a while (or
    never, when the customer's server drops it silently)."""
    return (
        f"NOT sent to the customer: with its files your reply would be about "
        f"{size / 1_048_576:.1f} MiB, over the {limit / 1_048_576:.0f} MiB accepted "
        "(outbound.max_message_size), so it was kept as an internal note (its files are kept "
        "with the ticket). Share the large files another way, such as a download link, and "
        "send your reply again."
    )
