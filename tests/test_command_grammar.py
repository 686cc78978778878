"""The grammar of the held-mail commands: what a manager may write, read the same way every
time, and each wrong line answered with its usage."""

from __future__ import annotations

import pytest

from gateway.core.commands import parse_commands


@pytest.mark.parametrize(
    ("line", "address", "value"),
    [
        ("/contact add bob@customer.example Acme", "bob@customer.example", "user  Acme"),
        ("/contact add <Bob@Customer.example> admin fr Alice Co", "bob@customer.example",
         "admin fr Alice Co"),
        ("/CONTACT ADD bob@customer.example OWNER Acme", "bob@customer.example", "owner  Acme"),
    ],
)  # fmt: skip
def test_contact_add(line, address, value):
    [command] = parse_commands(line).commands
    assert (command.verb, command.option, command.argument, command.value) == (
        "contact", "add", address, value,
    )  # fmt: skip


@pytest.mark.parametrize(
    "line",
    ["/contact add bob@customer.example", "/contact remove bob@customer.example Acme",
     "/contact add not-an-address Acme", "/contact add bob@customer.example admin fr",
     "/release", "/release twelve", "/release 12 x"],
)  # fmt: skip
def test_wrong_lines_get_their_usage(line):
    parsed = parse_commands(line)
    [error] = parsed.errors
    assert parsed.commands == () and "usage: /" in error.message
    assert error.line == line


def test_release_takes_several_numbers():
    [command] = parse_commands("/release #12, 13 14").commands
    assert command.argument == "12 13 14"
