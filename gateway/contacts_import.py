"""Read a contacts CSV (`email,name,account,role,language`) and check every row first.

Nothing is half-imported: any bad row is reported by its line number and the import stops.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

REQUIRED = ("email", "name", "account", "role", "language")
ROLES = ("owner", "admin", "user")
_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?\.[A-Za-z]{2,}$"
)
_LANGUAGE = re.compile(r"^[a-z]{2}$")
# The column sizes in the tables: PostgreSQL refuses longer values, SQLite would keep them.
MAX_LENGTH = {"email": 320, "name": 200, "account": 200, "reseller": 200}


def is_address(value: str) -> bool:
    """Whether `value` is an address as a contact or staff member may have one."""
    return len(value) <= MAX_LENGTH["email"] and _EMAIL.match(value) is not None


@dataclass(frozen=True)
class ContactRow:
    line: int
    email: str
    name: str
    account: str
    role: str
    language: str
    reseller: str = ""


def read_contacts(text: str) -> tuple[list[ContactRow], list[str]]:
    """Rows and errors ("line N: ..."); callers import only when errors is empty."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [column for column in REQUIRED if column not in header]
    if missing:
        return [], [f"line 1: missing column(s): {', '.join(missing)}"]
    reader.fieldnames = header
    rows, errors, seen = [], [], {}
    for record in reader:
        line = reader.line_num
        if None in record or None in record.values():
            # A row wider or narrower than the header (often an unquoted comma in a name,
            # which shifts every later column) is refused rather than guessed at.
            found = len(header) + len(record.get(None) or []) - list(record.values()).count(None)
            errors.append(f"line {line}: {found} fields, the header has {len(header)}")
            continue
        values = {k: v.strip() for k, v in record.items()}
        email = values["email"].lower()
        problems = _problems(values, email, seen)
        if problems:
            errors.extend(f"line {line}: {problem}" for problem in problems)
            continue
        seen[email] = line
        rows.append(
            ContactRow(
                line=line,
                email=email,
                name=values["name"],
                account=values["account"],
                role=values["role"].lower(),
                language=values["language"].lower(),
                reseller=values.get("reseller", ""),
            )
        )
    return rows, errors


def _problems(values: dict[str, str], email: str, seen: dict[str, int]) -> list[str]:
    problems = []
    if not is_address(email):
        problems.append(f"invalid email address {values['email']!r}")
    elif email in seen:
        problems.append(f"{email} already appears on line {seen[email]}")
    if not values["account"]:
        problems.append("account is empty")
    if values["role"].lower() not in ROLES:
        problems.append(f"role {values['role']!r} is not one of {', '.join(ROLES)}")
    if not _LANGUAGE.match(values["language"].lower()):
        problems.append(f"language {values['language']!r} is not a two-letter code")
    if any(ch in values["name"] for ch in "\r\n\x00"):
        problems.append("name contains a line break")
    for column in ("name", "account", "reseller"):
        if len(values.get(column, "")) > MAX_LENGTH[column]:
            problems.append(f"{column} is longer than {MAX_LENGTH[column]} characters")
    return problems
