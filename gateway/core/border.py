"""Remove what only our own border may write, before anything reads a header.

RFC 8601 section 5: an `Authentication-Results` header naming our authserv-id that arrives
from outside is a forgery, and so is any header in our own `X-Gateway-*` namespace (RT
CVE-2023-41259, Zammad's `X-Zammad-*`). In trusted-headers mode the topmost header is kept
when its authserv-id is trusted (our border MTA adds it last, above everything it received);
in verify mode we compute the results ourselves and keep none. Only the parsed view is
cleaned: the raw bytes stay as received, for evidence and for DKIM, which hashes them.
Parsing strips our namespace; the processor filters Authentication-Results right after
parsing, since which ones to keep depends on the configuration.
"""

from __future__ import annotations

from dataclasses import replace
from email.message import Message

from gateway.core.model import ParsedMail
from gateway.core.trust import authserv_id

NAMESPACE = "x-gateway-"
# Our loop header is the one exception: it can only make a mail less trusted (never answered),
# so a forged one harms nobody but its sender, and a genuine one must be seen to stop loops.
LOOP_HEADER = "x-gateway-loop"


def strip_internal(message: Message) -> tuple[str, ...]:
    """Delete every X-Gateway-* header but the loop header from `message`, in place; returns
    the names removed (parse calls this before it reads any header)."""
    removed: list[str] = []
    for name in dict.fromkeys(message.keys()):
        if name.lower().startswith(NAMESPACE) and name.lower() != LOOP_HEADER:
            removed.extend([name] * len(message.get_all(name, [])))
            del message[name]
    return tuple(removed)


def keep_trusted_results(mail: ParsedMail, trusted_ids: tuple[str, ...]) -> ParsedMail:
    """`mail` with only the topmost Authentication-Results, and only when a trusted border
    wrote it (pass no ids in verify mode: we then trust none)."""
    values = mail.auth_results
    trusted = {t.lower() for t in trusted_ids}
    kept = values[:1] if values and authserv_id(values[0]) in trusted else ()
    dropped = ("Authentication-Results",) * (len(values) - len(kept))
    if not dropped:
        return mail
    return replace(mail, auth_results=kept, removed_headers=mail.removed_headers + dropped)
