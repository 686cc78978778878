"""The grammar of staff commands by mail: slash lines at the top of the body, one per line.

Parsing only checks the shape of each line (known verb, allowed choice, argument present);
whether a name, department or ticket exists is checked later against the database. A line
that is wrong comes back as an error quoting it with the valid choices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STATUSES = ("open", "pending", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
LANGUAGES = ("en", "fr")
VERBS = (
    "note",
    "assign",
    "transfer",
    "status",
    "priority",
    "complaint",
    "merge",
    "cc",
    "watch",
    "unwatch",
    "show",
    "ask-permission",
    "privacy",
    "contact",
    "release",
    "open",
    "history",
    "canned",
)
ROLES = ("owner", "admin", "user")
# Commands on held mail, not on a ticket: in a mail of their own (a reply to the daily list).
DESK_VERBS = ("contact", "release")
USAGE = {
    "note": "/note",
    "assign": "/assign NAME|EMAIL|me",
    "transfer": "/transfer DEPARTMENT",
    "status": "/status " + "|".join(STATUSES),
    "priority": "/priority " + "|".join(PRIORITIES),
    "complaint": "/complaint",
    "merge": "/merge TICKET-NUMBER",
    "cc": "/cc add|remove ADDRESS",
    "watch": "/watch",
    "unwatch": "/unwatch",
    "show": "/show",
    "ask-permission": "/ask-permission WHAT WE WANT TO DO AND WHY",
    "privacy": "/privacy export|erase ADDRESS, /privacy correct ADDRESS name NEW NAME|language "
    + "|".join(LANGUAGES),
    "contact": "/contact add ADDRESS [owner|admin|user] [en|fr] ACCOUNT, "
    "/contact deactivate|activate ADDRESS",
    "release": "/release HELD-NUMBER ...",
    "open": "/open ADDRESS",
    "history": "/history ADDRESS",
    "canned": "/canned NAME (a saved reply, in the customer's language, below your own text)",
}
_LINE = re.compile(r"^/([a-z-]+)\b\s*(.*)$", re.IGNORECASE)
_NOTE_SUBJECT = re.compile(r"\[note\]", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    verb: str
    argument: str = ""
    option: str = ""  # for /cc: add | remove; for /privacy: export | erase | correct
    line: str = ""
    value: str = ""  # for /privacy correct: "name NEW NAME" or "language fr"


@dataclass(frozen=True)
class CommandError:
    line: str
    message: str


@dataclass(frozen=True)
class ParsedCommands:
    commands: tuple[Command, ...]
    errors: tuple[CommandError, ...]
    body: str  # the text below the commands
    internal: bool  # /note or [note] in the subject

    @property
    def actions(self) -> tuple[Command, ...]:
        return tuple(c for c in self.commands if c.verb != "note")


def parse_commands(text: str, subject: str = "") -> ParsedCommands:
    """Read command lines from the top of `text` (blank lines between them allowed)."""
    lines = text.replace("\r\n", "\n").split("\n")
    commands: list[Command] = []
    errors: list[CommandError] = []
    index = 0
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped:
            index += 1
            continue
        if not stripped.startswith("/") or stripped.startswith("//"):
            break
        command, error = _parse_line(stripped)
        if error:
            errors.append(error)
        else:
            commands.append(command)
        index += 1
    body = "\n".join(lines[index:]).strip("\n")
    internal = bool(_NOTE_SUBJECT.search(subject)) or any(c.verb == "note" for c in commands)
    return ParsedCommands(tuple(commands), tuple(errors), body, internal)


def _parse_line(line: str) -> tuple[Command | None, CommandError | None]:
    match = _LINE.match(line)
    if not match:
        return None, CommandError(line, "not a command; valid commands: " + _all_usage())
    verb, argument = match.group(1).lower(), " ".join(match.group(2).split())
    if verb not in VERBS:
        return None, CommandError(line, f"unknown command /{verb}; valid commands: {_all_usage()}")
    if verb in ("note", "complaint", "watch", "unwatch", "show"):
        if argument:
            return None, CommandError(line, f"/{verb} takes no argument; usage: {USAGE[verb]}")
        return Command(verb, line=line), None
    if not argument:
        return None, CommandError(line, f"/{verb} needs an argument; usage: {USAGE[verb]}")
    if verb == "status" and argument.lower() not in STATUSES:
        return None, CommandError(line, f"unknown status {argument!r}; usage: {USAGE[verb]}")
    if verb == "priority" and argument.lower() not in PRIORITIES:
        return None, CommandError(line, f"unknown priority {argument!r}; usage: {USAGE[verb]}")
    if verb == "merge":
        number = argument.lstrip("#")
        if not number.isdigit():
            return None, CommandError(line, f"not a ticket number; usage: {USAGE[verb]}")
        return Command(verb, number, line=line), None
    if verb == "cc":
        option, _, address = argument.partition(" ")
        if option.lower() not in ("add", "remove") or "@" not in address or " " in address:
            return None, CommandError(line, f"usage: {USAGE[verb]}")
        return Command(verb, address.strip("<>").lower(), option.lower(), line=line), None
    if verb == "privacy":
        return _parse_privacy(line, argument)
    if verb == "contact":
        return _parse_contact(line, argument)
    if verb == "canned":
        return Command(verb, argument.lower(), line=line), None
    if verb in ("open", "history"):
        address = argument.strip("<>").lower()
        if address.count("@") != 1 or " " in address:
            return None, CommandError(line, f"not an address; usage: {USAGE[verb]}")
        return Command(verb, address, line=line), None
    if verb == "release":
        numbers = argument.replace(",", " ").replace("#", "").split()
        if not all(n.isdigit() for n in numbers):
            return None, CommandError(line, f"not held mail numbers; usage: {USAGE[verb]}")
        return Command(verb, " ".join(numbers), line=line), None
    if verb in ("status", "priority"):
        argument = argument.lower()
    return Command(verb, argument, line=line), None


def _parse_privacy(line: str, argument: str) -> tuple[Command | None, CommandError | None]:
    """`/privacy export|erase ADDRESS`, `/privacy correct ADDRESS name|language VALUE`."""
    action, address, rest = (argument.split(" ", 2) + ["", ""])[:3]
    action, address = action.lower(), address.strip("<>").lower()
    usage = CommandError(line, f"usage: {USAGE['privacy']}")
    if action not in ("export", "erase", "correct") or address.count("@") != 1:
        return None, usage
    field, _, value = rest.partition(" ")
    field = field.lower()
    if action != "correct":
        return (None, usage) if rest else (Command("privacy", address, action, line=line), None)
    if field == "language" and value.lower() in LANGUAGES:
        return Command(
            "privacy", address, action, line=line, value=f"language {value.lower()}"
        ), None
    if field == "name" and value.strip():
        return Command("privacy", address, action, line=line, value=f"name {value.strip()}"), None
    return None, usage


def _parse_contact(line: str, argument: str) -> tuple[Command | None, CommandError | None]:
    """`/contact add ADDRESS [ROLE] [LANGUAGE] ACCOUNT`: the account last, as its name may
    hold spaces; the role is `user` and the language the company's unless given."""
    words = argument.split()
    usage = CommandError(line, f"usage: {USAGE['contact']}")
    action = words[0].lower() if words else ""
    if action in ("deactivate", "activate") and len(words) == 2 and words[1].count("@") == 1:
        return Command("contact", words[1].strip("<>").lower(), action, line=line), None
    if len(words) < 3 or action != "add" or words[1].count("@") != 1:
        return None, usage
    address, rest = words[1].strip("<>").lower(), words[2:]
    role = rest.pop(0).lower() if rest[0].lower() in ROLES else "user"
    language = rest.pop(0).lower() if rest and rest[0].lower() in LANGUAGES else ""
    if not rest:
        return None, usage
    return Command(
        "contact", address, "add", line=line, value=f"{role} {language} {' '.join(rest)}"
    ), None


def _all_usage() -> str:
    return ", ".join(USAGE[v] for v in VERBS)
