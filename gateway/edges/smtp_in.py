"""The SMTP listener: check recipient domain and size, store the bytes, then say 250.

No business logic runs in the SMTP dialog. The handler hands the bytes to the intake's group
committer (a thread), awaits the commit without blocking the event loop, and answers 250 only
once the row is durable, 451 if the store failed.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import socket
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP

from gateway.core.model import Envelope
from gateway.edges import smtp_data
from gateway.edges.smtp_gate import ConnectionGate, peer_address
from gateway.intake import RawMail

log = logging.getLogger(__name__)

_RECEIVED = re.compile(rb"^received:", re.IGNORECASE | re.MULTILINE)
# RFC 5321 4.5.3.1.3 allows 256 octets of path; beyond the column that keeps the envelope
# sender, with control characters (a NUL is refused by PostgreSQL) or with bytes that are not
# UTF-8 (left as surrogates, which no database driver encodes), the store would fail on every
# retry, so such an address is refused now rather than answered 451 forever.
_MAX_ADDRESS = 320
_UNSTORABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# A plain `<local@domain> PARAMS` path (dot-atoms only, no comment after it): nearly every
# MAIL and RCPT line.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_PATH = re.compile(
    rf"[ \t]*<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>[ \t]*([^(]*)"
)
_NO_BUDGET = smtp_data.DataBudget(0)
_DATA_REFUSALS = {
    smtp_data.Ending.LINE_TOO_LONG: "500 Line too long (see RFC5321 4.5.3.1.6)",
    smtp_data.Ending.TOO_BIG: "552 Error: Too much mail data",  # put in plain words by push
    smtp_data.Ending.TOO_BUSY: (
        "452 4.3.1 Too much mail is arriving at once; please try again in a few minutes"
    ),
}
_HEADER_TOO_BIG = (
    "552 5.3.4 The message's header is over {limit} bytes; this address cannot accept it"
)
_TOO_BIG = (
    "552 5.3.4 Message too big: this address accepts messages up to {limit} bytes. "
    "Please send large files as a link."
)


class Listener(SMTP):
    """aiosmtpd's SMTP with a cap on open connections, plain-words size refusals, a quick
    reading of plain paths, and a longer deadline for a message than for a command."""

    _admitted: str | None = None  # the address counted by the gate while this one is open
    _refused = False
    data_timeout: float = 300  # seconds from DATA to the end of the message

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd gives each command, from the one before, `timeout` seconds (a client
        dripping a command, or idle, is cut off); a whole message gets `data_timeout`."""
        self._reset_timeout(self.data_timeout)
        try:
            await self._data(arg)
        finally:
            if self.transport is not None:  # the next command has the command's deadline
                self._reset_timeout()

    async def _data(self, arg: str) -> None:
        """aiosmtpd's DATA (its checks, its replies), with the message read by `smtp_data`:
        into one buffer, within the budget of bytes all sessions may hold (bytes, never
        decoded: the listener is built with `decode_data=False`)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        budget = getattr(self.event_handler, "data_budget", _NO_BUDGET)
        try:
            received = await smtp_data.read_message(
                self._reader, self.data_size_limit, self.line_length_limit, budget,
                lambda: self.transport is not None,
            )  # fmt: skip
        except asyncio.CancelledError:  # the connection was reset during DATA
            self._writer.close()
            raise
        try:
            refusal = _DATA_REFUSALS.get(received.ending)
            if refusal is not None:
                self._set_post_data_state()
                await self.push(refusal)
                return
            if received.ending is smtp_data.Ending.CLOSED:
                return
            self.envelope.content = self.envelope.original_content = received.content
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
            await self.push("250 OK" if status is MISSING else status)
        finally:
            budget.give_back(received.held)

    def _timeout_cb(self) -> None:
        """Say why before closing (RFC 5321 4.2.2: 421, the service closing the channel)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"421 4.4.2 Timeout: closing the connection\r\n")
        super()._timeout_cb()

    def connection_made(self, transport) -> None:
        gate = getattr(self.event_handler, "gate", None)
        if gate is not None and self._admitted is None:  # not STARTTLS's second call
            address = peer_address(transport.get_extra_info("peername"))
            refusal = gate.admit(address)
            if refusal is not None:
                self._refused = True
                transport.write(f"421 4.7.0 {refusal}\r\n".encode())
                transport.close()
                return
            self._admitted = address
        super().connection_made(transport)

    def connection_lost(self, error) -> None:
        if self._refused:
            return  # aiosmtpd never began this session
        if self._admitted is not None:
            self.event_handler.gate.release(self._admitted)
            self._admitted = None
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        return False if self._refused else super().eof_received()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """A plain path read by a regular expression, as aiosmtpd's header parser reads it (a
        test compares the two): that parser took a quarter of the listener's time under
        load, building a class for each address. Anything else goes to that parser."""
        plain = _PLAIN_PATH.fullmatch(arg)
        if plain is None:
            return super()._getaddr(arg)
        address, rest = plain[1], plain[2]
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    async def push(self, status: str) -> None:
        if status.startswith("552 Error:"):
            status = _TOO_BIG.format(limit=self.data_size_limit)
        await super().push(status)


class _Replies:
    """Carries the intake writer's outcomes back to the event loop, one wakeup for all that
    arrive together: the writer settles a whole batch at once, and a wakeup per message (as
    `asyncio.wrap_future` makes) costs both threads a system call and a context switch.
    A client that hangs up cancels its waiter only, never the writer's future."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._arrived: list[tuple[asyncio.Future, Future]] = []
        self._lock = threading.Lock()

    def waiter(self, future: Future) -> asyncio.Future:
        waiter = self.loop.create_future()
        future.add_done_callback(lambda done: self._arrive(waiter, done))
        return waiter

    def _arrive(self, waiter: asyncio.Future, done: Future) -> None:  # in the writer's thread
        with self._lock:
            self._arrived.append((waiter, done))
            first = len(self._arrived) == 1
        if first:
            self.loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            arrived, self._arrived = self._arrived, []
        for waiter, done in arrived:
            if waiter.cancelled():  # the client went away meanwhile; its mail is stored
                continue
            if done.cancelled():
                waiter.cancel()
                continue
            error = done.exception()
            if error is None:
                waiter.set_result(done.result())
            else:
                waiter.set_exception(error)


def _header_end(raw: bytes, limit: int) -> int | None:
    """Where the header block ends (at a blank line, CRLF or bare LF), looked for within
    `limit` bytes only; None when it goes on past them."""
    ends = [at for at in (raw.find(b"\r\n\r\n", 0, limit + 4), raw.find(b"\n\n", 0, limit + 2))
            if at >= 0]  # fmt: skip
    if ends:
        return min(ends)
    return len(raw) if len(raw) <= limit else None


class InboundHandler:
    def __init__(
        self,
        submit: Callable[[RawMail], Future],
        accepted_domains: tuple[str, ...],
        max_recipients: int,
        max_received_headers: int,
        gate: ConnectionGate | None = None,
        max_header_bytes: int = 262_144,
        max_bytes_in_flight: int = 0,
    ):
        self.submit = submit
        self.accepted_domains = {d.lower() for d in accepted_domains}
        self.max_recipients = max_recipients
        self.max_received_headers = max_received_headers
        self.max_header_bytes = max_header_bytes
        self.gate = gate
        self.data_budget = smtp_data.DataBudget(max_bytes_in_flight)
        self._replies: _Replies | None = None

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if len(address) > _MAX_ADDRESS or _UNSTORABLE.search(address):
            return "553 5.1.7 The sender address is too long or has characters not allowed"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Sender OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if len(address) > _MAX_ADDRESS or _UNSTORABLE.search(address):
            return "553 5.1.3 The recipient address is too long or has characters not allowed"
        domain = address.rpartition("@")[2].lower()
        if domain not in self.accepted_domains:
            return f"550 5.1.1 <{address}>: this server accepts mail only for its own domains"
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return "452 4.5.3 Too many recipients in one message"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Recipient OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content or b""
        end = _header_end(raw, self.max_header_bytes)
        if end is None:  # parsers slow down with the header's size (bpo-31449, gh-136063)
            return _HEADER_TOO_BIG.format(limit=self.max_header_bytes)
        head = raw[:end]
        hops = len(_RECEIVED.findall(head))
        if hops > self.max_received_headers:
            return f"554 5.4.6 Mail loop detected: {hops} Received headers"
        peer = peer_address(session.peer)
        mail = RawMail(
            raw=raw,
            envelope=Envelope(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                peer=peer,
                source="smtp",
            ),
        )
        try:
            accepted = await self._waiter(self.submit(mail))
        except Exception as error:
            log.warning("could not store a message from %s: %s", peer, error)
            return "451 4.3.0 Temporary failure storing your message; please try again later"
        return f"250 2.0.0 Message accepted as #{accepted.inbound_id}"

    def _waiter(self, future: Future) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        if self._replies is None or self._replies.loop is not loop:
            self._replies = _Replies(loop)
        return self._replies.waiter(future)


class ListenerController(Controller):
    """aiosmtpd's controller, bound with SO_REUSEPORT when several processes share the port
    (`smtp.processes`): the kernel then spreads new connections over them."""

    def __init__(self, *args, reuse_port: bool = False, data_timeout: float = 300, **kwargs):
        super().__init__(*args, **kwargs)
        self.reuse_port = reuse_port
        self.data_timeout = data_timeout

    def factory(self):
        listener = Listener(self.handler, **self.SMTP_kwargs)
        listener.data_timeout = self.data_timeout
        return listener

    def _create_server(self):
        # aiosmtpd 1.4 passes no socket options of its own to create_server.
        return self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port,
            reuse_port=self.reuse_port or None,
        )  # fmt: skip

    def _trigger_server(self):
        """aiosmtpd checks that its factory works by connecting to the port; with the port
        shared, that connection may reach another process and never call ours, so the factory
        is called in the event loop's thread instead (its session is never connected)."""
        self.loop.call_soon_threadsafe(self._factory_invoker)


def refuse_taken_port(host: str, port: int) -> None:
    """Raise EADDRINUSE when something listens on host:port already. A socket bound with
    SO_REUSEPORT shares the port with any other of the same user that set it too, so a second
    `gateway serve` started by mistake would silently take half the mail: the first of the
    processes checks with a bind that cannot share (SO_REUSEADDR, like asyncio's own, only
    lets it pass connections left in TIME_WAIT)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                               flags=socket.AI_PASSIVE)  # fmt: skip
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRINUSE:
                    raise
                # anything else (no IPv6 here, say) is create_server's to report, or to skip


def make_controller(
    handler: InboundHandler,
    host: str,
    port: int,
    max_size: int,
    hostname: str,
    reuse_port: bool = False,
    tls_context: ssl.SSLContext | None = None,
    command_timeout: float = 60,
    data_timeout: float = 300,
):
    # aiosmtpd logs every command line (addresses included) at INFO: personal data in the log,
    # and formatting it costs the listener about a tenth of its time under load.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    return ListenerController(
        handler,
        hostname=host,
        port=port,
        server_hostname=hostname,
        data_size_limit=max_size,
        enable_SMTPUTF8=True,
        decode_data=False,
        ready_timeout=10,
        timeout=command_timeout,  # aiosmtpd's: from one command to the next
        data_timeout=data_timeout,
        reuse_port=reuse_port,
        tls_context=tls_context,  # STARTTLS offered when set; plaintext sent ahead is dropped
    )
