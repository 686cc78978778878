"""Limits on what one message may contain, checked after parsing (size is checked at SMTP).

Values come from configuration; a message over any limit is held with the reason and its
sender, when a known contact, is told in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.core.model import ParsedMail


@dataclass(frozen=True)
class MailLimits:
    max_depth: int = 20
    max_parts: int = 500
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments_bytes: int = 25 * 1024 * 1024


@dataclass(frozen=True)
class Violation:
    reason: str  # too-deep | too-many-parts | attachment-too-large | attachments-too-large
    detail: str  # the reason in an English sentence, for the quarantine record
    facts: tuple[tuple[str, int | str], ...] = ()  # the figures, for the notice in any language


def violation(mail: ParsedMail, limits: MailLimits) -> Violation | None:
    if mail.depth > limits.max_depth:
        return Violation(
            "too-deep",
            f"its parts are nested {mail.depth} levels deep; we accept at most {limits.max_depth}",
            (("depth", mail.depth), ("limit", limits.max_depth)),
        )
    if mail.part_count > limits.max_parts:
        return Violation(
            "too-many-parts",
            f"it has {mail.part_count} parts; we accept at most {limits.max_parts}",
            (("parts", mail.part_count), ("limit", limits.max_parts)),
        )
    for item in mail.attachments:
        if len(item.data) > limits.max_attachment_bytes:
            return Violation(
                "attachment-too-large",
                f"the attachment {item.filename!r} is {_mib(len(item.data))}; we accept "
                f"attachments up to {_mib(limits.max_attachment_bytes)}",
                (("filename", item.filename), ("size", len(item.data)),
                 ("limit", limits.max_attachment_bytes)),
            )  # fmt: skip
    total = sum(len(item.data) for item in mail.attachments)
    if total > limits.max_attachments_bytes:
        return Violation(
            "attachments-too-large",
            f"its attachments add up to {_mib(total)}; we accept up to "
            f"{_mib(limits.max_attachments_bytes)} per message",
            (("size", total), ("limit", limits.max_attachments_bytes)),
        )
    return None


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
