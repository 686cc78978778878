"""Which mailbox the poller reads and how it logs in, and the envelope SMTP would have given
each of its messages.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from pathlib import Path

from imapclient import IMAPClient

from gateway.core.model import Envelope
from gateway.errors import TemporaryFailure

_RECIPIENT_HEADERS = ("delivered-to", "x-original-to", "to", "cc")


@dataclass(frozen=True)
class Login:
    """A password, or XOAUTH2 with a token read from a file or printed by a command.

    The token is read again at every connection, since hosted providers' tokens expire.
    """

    username: str
    password: str = ""
    token_file: Path | None = None
    token_command: str = ""

    def authenticate(self, client: IMAPClient) -> None:
        if self.token_file is None and not self.token_command:
            client.login(self.username, self.password)
            return
        client.oauth2_login(self.username, self._token())

    def _token(self) -> str:
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        try:
            done = subprocess.run(
                shlex.split(self.token_command), capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise TemporaryFailure(f"token command failed: {error}") from error
        if done.returncode != 0:
            raise TemporaryFailure(f"token command exited {done.returncode}: {done.stderr[:200]}")
        return done.stdout.strip()


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    security: str  # "tls" | "starttls" | "none"
    login: Login
    folders: tuple[str, ...] = ("INBOX",)
    processed_folder: str = "Processed"
    address: str = ""  # the envelope recipient when no header names one of our domains

    @property
    def name(self) -> str:
        return mailbox_name(self.login.username, self.host)


def mailbox_name(username: str, host: str) -> str:
    """How logs, events and `gateway status` name a mailbox."""
    return f"{username}@{host}"


def envelope_for(raw: bytes, mailbox: Mailbox, folder: str, domains: tuple[str, ...]) -> Envelope:
    """The envelope SMTP would have given: recipients in our domains as the headers name them.

    A hosted mailbox gathers support+<token>@, complaints@ and the plain address into one
    folder, and threading and complaint routing need to know which was used, so the headers
    (Delivered-To, X-Original-To, To, Cc) decide; the account's address is used when none of
    them names our domains (a Bcc).
    """
    head = raw.partition(b"\r\n\r\n")[0] if b"\r\n\r\n" in raw else raw.partition(b"\n\n")[0]
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\r\n\r\n")
    fields = [str(v) for name in _RECIPIENT_HEADERS for v in headers.get_all(name) or ()]
    wanted = {d.lower() for d in domains}
    found = [a.lower() for _, a in getaddresses(fields) if a.rpartition("@")[2].lower() in wanted]
    rcpts = tuple(dict.fromkeys(found)) or ((mailbox.address,) if mailbox.address else ())
    return Envelope(_mail_from(headers), rcpts, peer=f"{mailbox.host}/{folder}", source="imap")


def _mail_from(headers: Message) -> str:
    """The delivering server's Return-Path ("<>" for a bounce stays empty); without one (mail
    put there by a client), the author, so a person's mail is not taken for a bounce."""
    return_path = headers.get("return-path")
    return parseaddr(str(return_path if return_path is not None else headers.get("from", "")))[1]
