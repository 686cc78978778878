"""The layering DESIGN.md promises: dependencies point inward, each library has one home."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gateway"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules():
    return {
        path.relative_to(PACKAGE.parent).with_suffix("").as_posix().replace("/", "."): path
        for path in PACKAGE.rglob("*.py")
    }


def importers_of(prefixes: tuple[str, ...]) -> set[str]:
    return {
        name
        for name, path in modules().items()
        if any(imp == p or imp.startswith(p + ".") for imp in imports_of(path) for p in prefixes)
    }


def test_core_imports_nothing_else_of_the_gateway():
    for name, path in modules().items():
        if name.startswith("gateway.core"):
            outside = {
                i
                for i in imports_of(path)
                if i.startswith("gateway") and not i.startswith("gateway.core")
            }
            assert not outside, f"{name} imports {outside}"


def test_core_reads_no_clock_database_or_network():
    forbidden = ("sqlmodel", "sqlalchemy", "socket", "smtplib", "aiosmtpd", "imapclient", "jinja2")
    for name, path in modules().items():
        if name.startswith("gateway.core"):
            bad = {i for i in imports_of(path) if i.split(".")[0] in forbidden}
            assert not bad, f"{name} imports {bad}"
            source = path.read_text(encoding="utf-8")
            assert ".now(" not in source and "time.time(" not in source, name


def test_only_store_imports_the_orm():
    assert importers_of(("sqlmodel", "sqlalchemy")) <= {
        n for n in modules() if n.startswith("gateway.store")
    }


def test_only_outbox_imports_jinja2():
    assert importers_of(("jinja2",)) == {"gateway.outbox"}


def test_only_edges_touch_network_and_timers():
    libraries = ("aiosmtpd", "imapclient", "apscheduler", "smtplib")
    assert all(name.startswith("gateway.edges") for name in importers_of(libraries))


def test_only_app_and_cli_read_configuration():
    assert importers_of(("gateway.config",)) <= {"gateway.app", "gateway.cli"}
