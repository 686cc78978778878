"""How list and show commands print: a readable table, or one JSON document with --json."""

from __future__ import annotations

import json


def emit(args, rows: list[dict], columns: list[str], document=None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(rows if document is None else document, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    table = [
        [str(row.get(c, "") if row.get(c) is not None else "") for c in columns] for row in rows
    ]
    widths = [max(len(c), *(len(r[i][:60]) for r in table)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in table:
        print("  ".join(v[:60].ljust(w) for v, w in zip(row, widths, strict=True)))
