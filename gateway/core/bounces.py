"""Bounces: which of our mails failed, for whom, and whether for good.

Outgoing mail uses a VERP return path `bounces+<outbox id>.<mac>@domain`, so a bounce names
the mail it is about even when its body says nothing useful. The body is read as an RFC 3464
delivery status report when it is one, and otherwise by the phrases common MTAs use.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_MSGID = re.compile(r"^message-id:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_BOUNCE_SUBJECT = re.compile(
    r"(undeliver|delivery status notification|mail delivery (failed|subsystem)|returned mail|"
    r"failure notice|non remis|non distribuable|unzustellbar|no se puede entregar)",
    re.IGNORECASE,
)
_PERMANENT_WORDS = re.compile(
    r"(user unknown|no such user|mailbox unavailable|does not exist|address rejected|"
    r"recipient address rejected|invalid recipient|unknown user|account (is )?disabled)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class BounceReport:
    permanent: bool
    recipients: tuple[str, ...]
    status: str  # e.g. "5.1.1", or "" when unknown
    original_message_id: str  # the bounced mail's Message-ID, when the report quotes it
    diagnostic: str


def _mac(key: bytes, outbox_id: int) -> str:
    return hmac.new(key, f"verp:{outbox_id}".encode(), hashlib.sha256).hexdigest()[:12]


def _verp_tag(outbox_id: int, key: bytes) -> str:
    return f"+{outbox_id}.{_mac(key, outbox_id)}"


def _tagged(base: str, tag: str) -> str:
    local, _, domain = base.partition("@")
    return f"{local}{tag}@{domain}"


def verp_address(base: str, outbox_id: int, key: bytes) -> str:
    return _tagged(base, _verp_tag(outbox_id, key))


def return_path(mail_from: str, outbox_id: int, key: bytes) -> str:
    """The envelope sender queued mail goes out with: its VERP address, written when it is
    sent rather than in a second statement when it is queued (the null sender stays null; a
    row an earlier version queued holds its VERP address already)."""
    if not mail_from:
        return ""
    tag = _verp_tag(outbox_id, key)
    return mail_from if f"{tag}@" in mail_from else _tagged(mail_from, tag)


def verp_outbox_id(recipients: tuple[str, ...], base: str, key: bytes) -> int | None:
    """The outbox id a VERP recipient names, if its MAC is ours (forged ones are ignored)."""
    local, _, domain = base.lower().partition("@")
    for rcpt in recipients:
        r_local, _, r_domain = rcpt.lower().partition("@")
        if r_domain != domain or not r_local.startswith(local + "+"):
            continue
        number, _, mac = r_local[len(local) + 1 :].partition(".")
        if number.isdigit() and hmac.compare_digest(mac, _mac(key, int(number))):
            return int(number)
    return None


def is_bounce_address(recipients: tuple[str, ...], base: str) -> bool:
    local, _, domain = base.lower().partition("@")
    return any(
        r.lower().partition("@")[2] == domain
        and r.lower().partition("@")[0].split("+", 1)[0] == local
        for r in recipients
    )


def read_report(raw: bytes, subject: str) -> BounceReport | None:
    """A bounce report, or None when the message does not look like one."""
    message = message_from_bytes(raw, policy=policy.compat32)
    report = _dsn(message)
    if report is not None:
        return report
    if not _BOUNCE_SUBJECT.search(subject):
        return None  # null-sender mail that is not a bounce is ordinary automatic mail
    text = _plain_text(message)
    status = _STATUS.search(text)
    code = ".".join(status.groups()) if status else ""
    permanent = code.startswith("5") or (not code and bool(_PERMANENT_WORDS.search(text)))
    ids = _MSGID.findall(text)
    return BounceReport(permanent, (), code, ids[-1] if ids else "", _first_line(text))


def _dsn(message: Message) -> BounceReport | None:
    if message.get_content_type() != "multipart/report":
        return None
    if (message.get_param("report-type") or "").lower() != "delivery-status":
        return None
    recipients, statuses, diagnostic, original = [], [], "", ""
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            for block in part.get_payload() if part.is_multipart() else []:
                action = (block.get("Action") or "").strip().lower()
                status = (block.get("Status") or "").strip()
                final = block.get("Final-Recipient") or block.get("Original-Recipient") or ""
                if action in ("failed", "delayed"):
                    statuses.append(status)
                    recipients.append(final.rpartition(";")[2].strip().strip("<>").lower())
                    diagnostic = diagnostic or (block.get("Diagnostic-Code") or "").strip()
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            text = part.as_string()
            ids = _MSGID.findall(text)
            original = original or (ids[0] if ids else "")
    if not statuses:
        return None
    permanent = any(s.startswith("5") for s in statuses)
    return BounceReport(permanent, tuple(recipients), statuses[0], original, diagnostic[:300])


def _plain_text(message: Message) -> str:
    parts = []
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            parts.append(part.as_string())
        elif part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode("utf-8", "replace"))
    return "\n".join(parts)[:200_000]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""
