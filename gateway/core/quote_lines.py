"""Recognise the lines mail clients put around quoted history and signatures, in English,
French, German, Spanish, Italian and Dutch (plus Portuguese where it costs nothing).

Each function looks at one line (or a few, for headers that wrap) and says what it is; the
decision of what to keep lives in `quotes`.
"""

from __future__ import annotations

import re

REPLY_MARKER = "-- Reply above this line / Répondez au-dessus de cette ligne --"
_MARKER = re.compile(r"reply above this line|répondez au-dessus de cette ligne", re.I)

# "On <date>, <name> wrote:" and its translations. Verbs that end the header take the colon
# at once; "schrieb"/"schreef" are followed by the name ("Am 5.1. schrieb Alice <a@b>:").
_ENDING = (
    r"(?:(?:wrote|a\s+écrit|escribió|ha\s+scritto|geschrieben|geschreven|escreveu)\s*"
    r"|(?:schrieb|schreef)\b.{0,200})"
)
_HEADER_START = re.compile(r"^(?:on|le|am|el|il|op|em)\s", re.I)
_HEADER = re.compile(
    rf"^(?:(?:on|le|am|el|il|op|em)\s.{{3,400}}|.{{0,400}}(?:@|\d{{1,2}}:\d{{2}}).{{0,400}}|"
    rf".{{1,200}}\sschrieb\s+am\s.{{1,200}})\b{_ENDING}:$",
    re.I,
)

# Outlook's block of header fields: "From: / Sent: / To: / Subject:" and translations.
_FROM = r"(?:from|de|von|da|van|expéditeur|remitente|mittente|absender)"
_FIELD = (
    r"(?:sent|date|to|cc|bcc|subject|reply-to|envoyé(?:\s+le)?|à|a|objet|date\s+d'envoi|"
    r"gesendet|datum|an|betreff|enviado(?:\s+el)?|fecha|para|asunto|inviato|data|oggetto|"
    r"verzonden|aan|onderwerp|importance|priorité|wichtigkeit|priorità|prioriteit)"
)
_FROM_LINE = re.compile(rf"^\**\s*{_FROM}\s*\**\s*:", re.I)
_FIELD_LINE = re.compile(rf"^\**\s*({_FIELD})\s*\**\s*:", re.I)

_ORIGINAL = re.compile(
    r"^[-_=*\s]*(?:original message|message d'origine|mail original|ursprüngliche nachricht|"
    r"ursprüngliche mail|original-nachricht|"
    r"originalnachricht|mensaje original|messaggio originale|oorspronkelijk bericht|"
    r"origineel bericht|mensagem original)[-_=*\s]*$",
    re.I,
)
_FORWARD = re.compile(
    r"^[-_=*\s]*(?:forwarded message|begin forwarded message|message transféré|"
    r"début du message (?:réexpédié|transféré)|weitergeleitete nachricht|"
    r"anfang der weitergeleiteten nachricht|mensaje reenviado|inicio del mensaje reenviado|"
    r"messaggio inoltrato|inizio messaggio inoltrato|doorgestuurd bericht|"
    r"begin doorgestuurd bericht)\s*:?[-_=*\s]*$",
    re.I,
)
_SEPARATOR = re.compile(r"^[-_=*~\s]+$")

# Footers phones and webmails append ("Sent from my iPhone"), optionally followed by the link
# a client renders for its app store.
_FOOTER = re.compile(
    r"^(?:sent from my .{1,40}|sent from (?:outlook|mail for windows|yahoo mail|aol mobile mail"
    r"|proton mail|samsung).{0,40}|sent with proton mail.{0,40}|get outlook for (?:ios|android)"
    r"|envoyé (?:de|depuis) mon .{1,40}|envoyé (?:depuis|à partir de) (?:yahoo mail|outlook"
    r"|courrier).{0,40}|(?:obtenir|télécharger|téléchargez) outlook pour (?:ios|android)"
    r"|von meinem .{1,40} gesendet|gesendet von (?:meinem .{1,40}|yahoo mail.{0,30}"
    r"|outlook.{0,30}|mail für windows.{0,10})|outlook für (?:ios|android) herunterladen"
    r"|enviado desde (?:mi .{1,40}|yahoo mail.{0,30}|outlook.{0,30}|correo para windows.{0,5})"
    r"|obtener outlook para (?:ios|android)|inviato dal mio .{1,40}"
    r"|inviato da (?:iphone|ipad|android|outlook|yahoo mail|libero mail|posta per windows)"
    r".{0,30}|scarica outlook per (?:ios|android)|(?:verzonden|verstuurd) (?:vanaf|met|via) "
    r"(?:mijn )?.{1,40}|outlook voor (?:ios|android) downloaden)"
    r"\s*(?:<[^<>\s]{1,300}>)?\s*[.!]?$",
    re.I,
)


def is_marker(body: str) -> bool:
    """Our own "reply above this line" marker (either language half is enough)."""
    return bool(_MARKER.search(body))


def header_length(bodies: list[str | None], index: int) -> int:
    """How many lines (1-3) a quote header starting at `index` spans; 0 if none.

    `bodies` holds each line's text, or None for a quoted line: a header wraps only over
    unquoted, non-blank lines (Gmail wraps "... <alice@example.com> a\\nécrit :").
    """
    first = bodies[index]
    if not first:
        return 0
    joined = first
    for span in range(1, 4):
        if joined.endswith(":") and len(joined) <= 600 and _HEADER.match(joined):
            return span
        following = index + span
        if span == 3 or following >= len(bodies) or not bodies[following]:
            return 0
        if not _HEADER_START.match(first) and "@" not in joined:
            return 0
        joined = f"{joined} {bodies[following]}"
    return 0


def is_header_block(bodies: list[str | None], index: int) -> bool:
    """Header fields copied above the history: a "From:" line and two others, in any order
    (GMX puts "Gesendet:" first), on consecutive lines starting at `index`."""
    first = bodies[index]
    if not first or not (_FROM_LINE.match(first) or _FIELD_LINE.match(first)):
        return False
    names, has_from = set(), False
    for body in bodies[index : index + 8]:
        if not body:
            break
        field = _FIELD_LINE.match(body)
        if _FROM_LINE.match(body):
            has_from = True
        elif field:
            names.add(field.group(1).lower())
    return has_from and len(names) >= 2


# Legal footers a company's mail server appends below everything, quotes included.
_DISCLAIMER = re.compile(
    r"\b(?:confidential|disclaimer|intended (?:solely |only )?for the (?:named )?(?:addressee|"
    r"recipient)|vertraulich|confidentiel|confidencial|riservat[oaie]|vertrouwelijk)",
    re.I,
)


def is_disclaimer(block: str) -> bool:
    return bool(_DISCLAIMER.search(block))


def is_original_separator(body: str) -> bool:
    return bool(_ORIGINAL.match(body))


def is_forward_marker(body: str) -> bool:
    return bool(_FORWARD.match(body))


def is_separator(body: str) -> bool:
    """A line of only dashes, underscores or equals signs (what Outlook puts above history)."""
    return bool(body) and bool(_SEPARATOR.match(body))


def is_footer(body: str) -> bool:
    return len(body) <= 120 and bool(_FOOTER.match(body))


def is_signature_delimiter(line: str) -> bool:
    """The "-- " line of RFC 3676 section 4.3. A bare "--" is too often the author's own
    separator to cut on."""
    return line.rstrip("\r\n") == "-- "
