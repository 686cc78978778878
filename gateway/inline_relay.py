"""An HTML body and its inline images, carried from a mail we received into one we send.

The images the (sanitised, possibly cut) HTML shows travel beside it in multipart/related;
every other file, an inline part that is no image or that the HTML does not show included,
travels as an ordinary attachment, so nothing the sender sent is lost on the way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from gateway import compose
from gateway.core import inline
from gateway.core.model import ParsedAttachment


@dataclass(frozen=True)
class Shown:
    html: str  # a sanitised fragment, to place inside our own page
    files: tuple[compose.OutgoingAttachment, ...]  # the images it shows marked inline

    @property
    def images(self) -> int:
        return sum(1 for f in self.files if f.inline)


def files(attachments: Iterable[ParsedAttachment]) -> tuple[compose.OutgoingAttachment, ...]:
    """Received attachments as files to send on, each with its Content-ID and inline flag."""
    return tuple(
        compose.OutgoingAttachment(a.filename, a.content_type, a.data, a.content_id, a.inline)
        for a in attachments
    )


def shown(
    html: str, attached: tuple[compose.OutgoingAttachment, ...], new_text: str | None = None
) -> Shown | None:
    """`html` fit to send with its inline images (cut to `new_text` when given; see
    `inline.shown_html`), or None when there is nothing to show or the cut fails."""
    if not html.strip():
        return None
    images = {f.content_id for f in attached if _showable(f)}
    found = inline.shown_html(html, images, new_text)
    if found is None:
        return None
    pending = set(found.images)
    placed = []
    for item in attached:
        show = item.content_id in pending and _showable(item)
        if show:
            pending.discard(item.content_id)  # a second part with the same id is attached
        placed.append(replace(item, inline=show))
    return Shown(found.html, tuple(placed))


def plain_files(
    attached: tuple[compose.OutgoingAttachment, ...],
) -> tuple[compose.OutgoingAttachment, ...]:
    """The files as ordinary attachments (when the HTML part is not the sender's own)."""
    return tuple(replace(item, inline=False) for item in attached)


def _showable(item: compose.OutgoingAttachment) -> bool:
    """An image the HTML may show by its Content-ID. Its disposition does not matter: some
    clients mark the images their HTML shows "attachment", and readers show them in place."""
    return bool(item.content_id and inline.is_inline_image(item.content_type, item.data))
