"""Senders for the outbox: a smarthost over SMTP, or a local Maildir as a local MTA writes it.

Library errors become TemporaryFailure or PermanentFailure here and nowhere else.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import time
import uuid
from pathlib import Path

from gateway.errors import PermanentFailure, TemporaryFailure


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        username: str = "",
        password: str = "",
        timeout: float = 60,
        local_hostname: str | None = None,
    ):
        self.host, self.port, self.starttls = host, port, starttls
        self.username, self.password, self.timeout = username, password, timeout
        self.local_hostname = local_hostname

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes) -> None:
        try:
            with smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
            ) as client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password)
                refused = client.sendmail(mail_from, rcpt_to, raw)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            message = "; ".join(f"{r}: {c} {m!r}" for r, (c, m) in error.recipients.items())
            if all(code >= 500 for code in codes):
                raise PermanentFailure(message) from error
            raise TemporaryFailure(message) from error
        except smtplib.SMTPResponseException as error:
            text = f"{error.smtp_code} {error.smtp_error!r}"
            if error.smtp_code >= 500:
                raise PermanentFailure(text) from error
            raise TemporaryFailure(text) from error
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise TemporaryFailure(f"{type(error).__name__}: {error}") from error
        if refused:
            raise TemporaryFailure(f"some recipients refused: {refused}")


class MaildirSender:
    """Writes one file per envelope recipient into `new/`, with Delivered-To naming it."""

    def __init__(self, path: Path):
        self.path = path
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")

    def ensure(self) -> None:
        for sub in ("tmp", "new", "cur"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes) -> None:
        try:
            for rcpt in rcpt_to:
                header = f"Return-Path: <{mail_from}>\r\nDelivered-To: {rcpt}\r\n".encode()
                try:
                    self._deliver(header + raw)
                except FileNotFoundError:  # the Maildir was removed: made again, once
                    self.ensure()
                    self._deliver(header + raw)
        except OSError as error:
            raise TemporaryFailure(f"maildir write failed: {error}") from error

    def _deliver(self, data: bytes) -> None:
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.{self._host}"
        tmp = self.path / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.path / "new" / name)
        directory = os.open(self.path / "new", os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
