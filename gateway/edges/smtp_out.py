"""Senders for the outbox: a smarthost over SMTP, or a local Maildir as a local MTA writes it.

Library errors become TemporaryFailure or PermanentFailure here and nowhere else.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import threading
import time
import uuid
from pathlib import Path

from gateway.errors import PermanentFailure, TemporaryFailure


class SmtpSender:
    """The smarthost. A delivery round's mail goes over one connection, as MTAs reuse theirs:
    a connection, STARTTLS and login cost more than the mail. Before each mail after the first,
    RSET checks that the connection still stands; one that does not is opened anew, and since
    no mail was begun on it, none is sent twice."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        implicit_tls: bool = False,
        ca_file: str | None = None,
        username: str = "",
        password: str = "",
        timeout: float = 60,
        local_hostname: str | None = None,
    ):
        self.host, self.port, self.starttls = host, port, starttls
        self.implicit_tls, self.ca_file = implicit_tls, ca_file
        self._tls: ssl.SSLContext | None = None  # made once: reading the trust store costs
        self.username, self.password, self.timeout = username, password, timeout
        self.local_hostname = local_hostname
        self._client: smtplib.SMTP | None = None
        self._unreachable = ""  # why this round could not connect: the rest wait for the next
        self._lock = threading.Lock()  # one mail at a time on the connection

    def send(self, mail_from: str, rcpt_to: list[str], raw: bytes) -> None:
        with self._lock:
            try:
                refused = self._sendmail(mail_from, rcpt_to, raw)
            except smtplib.SMTPRecipientsRefused as error:
                codes = [code for code, _ in error.recipients.values()]
                message = "; ".join(
                    f"{r}: {c} {_reply_text(m)}" for r, (c, m) in error.recipients.items()
                )
                if all(code >= 500 for code in codes):
                    raise PermanentFailure(message) from error
                raise TemporaryFailure(message) from error
            except smtplib.SMTPResponseException as error:
                text = f"{error.smtp_code} {_reply_text(error.smtp_error)}"
                if error.smtp_code >= 500:
                    raise PermanentFailure(text) from error
                raise TemporaryFailure(text) from error
            except (TimeoutError, smtplib.SMTPException, OSError) as error:
                raise TemporaryFailure(f"{type(error).__name__}: {error}") from error
        if refused:
            raise TemporaryFailure(f"some recipients refused: {refused}")

    def settle(self) -> None:
        """Nothing to do: the smarthost's 250 is its promise to deliver."""

    def close(self) -> None:
        """End the round: say QUIT, so no idle connection waits on the smarthost."""
        with self._lock:
            self._drop(polite=True)
            self._unreachable = ""

    def _sendmail(self, mail_from: str, rcpt_to: list[str], raw: bytes) -> dict:
        client = self._connection()
        try:
            return client.sendmail(mail_from, rcpt_to, raw)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException):
            raise  # refused with a reply: smtplib said RSET (or closed on 421) already
        except BaseException:  # cut off mid-mail: that connection is done with
            self._drop(polite=False)
            raise

    def _connection(self) -> smtplib.SMTP:
        if self._client is not None:
            try:
                if self._client.rset()[0] == 250:
                    return self._client
            except (smtplib.SMTPException, OSError):
                pass
            self._drop(polite=False)  # closed, or closing (421), by the smarthost
        if self._unreachable:  # each mail would meet the same again (a timeout, a lockout)
            raise TemporaryFailure(self._unreachable)
        try:
            self._client = self._connect()
        except (TimeoutError, OSError, smtplib.SMTPException) as error:
            # The link failed, not the mail (even a 5xx to the greeting or the login is the
            # smarthost's or our setup's to mend): the mail waits for the next try.
            if isinstance(error, smtplib.SMTPResponseException):
                reason = f"{error.smtp_code} {error.smtp_error!r}"
            else:
                reason = f"{type(error).__name__}: {error}"
            self._unreachable = f"no connection to the smarthost: {reason}"
            raise TemporaryFailure(self._unreachable) from error
        return self._client

    def _connect(self) -> smtplib.SMTP:
        """A connection ready for mail: TLS with the certificate verified when configured (a
        smarthost that cannot show a trusted one gets no mail, never mail in clear), then the
        login."""
        if self.implicit_tls:
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                      local_hostname=self.local_hostname,
                                      context=self._tls_context())  # fmt: skip
        else:
            client = smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
            )
        try:
            if self.starttls:
                client.starttls(context=self._tls_context())
            if self.username:
                client.login(self.username, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=self.ca_file)
        return self._tls

    def _drop(self, polite: bool) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if polite:
                client.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            client.close()


class MaildirSender:
    """Writes one file per envelope recipient into `new/`, with Delivered-To naming it."""

    def __init__(self, path: Path):
        self.path = path
        self._host = socket.gethostname().replace("/", "_").replace(":", "_")
        self._renamed = False  # a file moved into new/ since the folder was last synced

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

    def settle(self) -> None:
        """Sync `new/` once for the files moved into it since the last time, as a local MTA
        would for each: until then a power cut may lose a name, and the row, not yet marked
        sent, is written again."""
        if not self._renamed:
            return
        try:
            directory = os.open(self.path / "new", os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as error:
            raise TemporaryFailure(f"maildir sync failed: {error}") from error
        self._renamed = False

    def close(self) -> None:
        """Nothing held between rounds."""

    def _deliver(self, data: bytes) -> None:
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.{self._host}"
        tmp = self.path / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.path / "new" / name)
        self._renamed = True


def _reply_text(reply: bytes | str) -> str:
    """A server's reply as one line of text (it is shown to staff and kept with the row):
    decoded, its line breaks and control characters made spaces, at most 500 characters."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:500]
