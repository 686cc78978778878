"""The IMAP poller: stores each message of the watched folders through the intake and moves it
to the processed folder only after the commit (with imap_mailbox.py, the only modules that
import imapclient).

It uses IDLE where the server offers it and polls otherwise, reconnects with backoff, and logs
once per outage. Reading uses BODY.PEEK[], so a message it could not store stays unseen.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from imapclient import IMAPClient

from gateway.edges.imap_mailbox import Mailbox, envelope_for
from gateway.errors import TemporaryFailure, without_message
from gateway.intake import Accepted, RawMail

log = logging.getLogger(__name__)

# Server or network trouble: reconnect after a backoff (imapclient's errors derive from these).
NETWORK_ERRORS = (OSError, imaplib.IMAP4.error, TemporaryFailure)
IDLE_RENEW_SECONDS = 600  # RFC 2177: re-issue IDLE well before a 29-minute server timeout
FIRST_IDLE_SECONDS = 5
BATCH_MESSAGES, BATCH_BYTES = 100, 16 * 1024 * 1024


@dataclass
class _Folder:
    """What we know about one folder; UIDs mean something only under their UIDVALIDITY."""

    uidvalidity: int
    uidnext: int | None = None
    stored: set[int] = field(default_factory=set)  # committed, not yet moved
    too_big: set[int] = field(default_factory=set)


def _carry_on(step: str) -> None:
    """The default checkpoint: nothing happens between steps."""


class Poller:
    """One mailbox, one thread. `checkpoint(step)` is called after "fetched", "stored" and
    before "moving", so a caller can observe (or interrupt) each step."""

    def __init__(
        self,
        mailbox: Mailbox,
        store: Callable[[list[RawMail]], list[Accepted]],
        on_accept: Callable[[], None],
        accepted_domains: tuple[str, ...],
        poll_seconds: float,
        *,
        max_message_size: int = 26_214_400,
        checkpoint: Callable[[str], None] = _carry_on,
        ssl_context: ssl.SSLContext | None = None,
        backoff: tuple[float, float] = (1.0, 300.0),
        timeout: float = 60.0,
        on_state: Callable[[str, str], None] | None = None,
    ):
        self.mailbox, self.store, self.on_accept = mailbox, store, on_accept
        self.domains, self.poll_seconds = accepted_domains, poll_seconds
        self.max_message_size, self.checkpoint = max_message_size, checkpoint
        self.ssl_context, self.backoff, self.timeout = ssl_context, backoff, timeout
        self._folders: dict[str, _Folder] = {}
        self._delay = backoff[0]
        self._outage: str | None = None  # "server" or "store" while one lasts
        # Told "unavailable" (with why) when an outage starts and "available" when it ends,
        # for `gateway status`: a mailbox nobody reads must not go unnoticed for long.
        self.on_state = on_state or (lambda state, reason: None)
        self._read_once = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"imap {mailbox.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def run_once(self) -> bool:
        """Connect, take what every folder holds, log out; True if nothing was left to retry."""
        with self._connect() as client:
            self._ensure_processed_folder(client)
            return all([self._scan(client, folder) for folder in self.mailbox.folders])

    # The long-running loop ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as client:
                    self._ensure_processed_folder(client)
                    self._serve(client)
            except NETWORK_ERRORS as error:
                if not self._stop.is_set():
                    self._trouble("server", f"{type(error).__name__}: {error}")
            except Exception as error:
                log.error("imap %s: poller step failed: %s", self.mailbox.name,
                          without_message(error))  # fmt: skip
            self._pause()

    def _serve(self, client: IMAPClient) -> None:
        waited = 0  # waits on this connection
        while not self._stop.is_set():
            if all([self._scan(client, folder) for folder in self.mailbox.folders]):
                self._recovered()
                self._wait(client, first=waited == 0)
                waited += 1
            else:
                self._pause()

    def _pause(self) -> None:
        self._stop.wait(self._delay)
        self._delay = min(self._delay * 2, self.backoff[1])

    def _trouble(self, kind: str, reason: str) -> None:
        if self._outage is None:
            log.warning("imap %s: %s unavailable, will retry: %s", self.mailbox.name, kind, reason)
            said = "".join(c if c.isprintable() else "?" for c in reason)  # the server's words
            self._tell("unavailable", f"{kind}: {said}"[:300])
        else:
            log.debug(
                "imap %s: still failing (%s), retry in %.1fs",
                self.mailbox.name,
                reason,
                self._delay,
            )
        self._outage = kind

    def _recovered(self) -> None:
        if self._outage is not None:
            log.info("imap %s: %s available again", self.mailbox.name, self._outage)
        if self._outage is not None or not self._read_once:
            # also on a process's first good read: an outage recorded before a restart (the
            # password was wrong, then mended) ends here
            self._tell("available", "")
            self._read_once = True
        self._outage, self._delay = None, self.backoff[0]

    def _tell(self, state: str, reason: str) -> None:
        try:
            self.on_state(state, reason)
        except Exception as error:  # the database may be what is down: polling goes on
            log.warning("imap %s: state not recorded: %s", self.mailbox.name,
                        without_message(error))  # fmt: skip

    def _wait(self, client: IMAPClient, first: bool = False) -> None:
        """Until new mail, a poll interval or stop: IDLE on the first folder where offered.
        The first IDLE of a connection is short: mail a server stored in the moment between
        the scan and IDLE, while it was busy, is then found in seconds, not at the renewal."""
        folder = self.mailbox.folders[0]
        info = client.select_folder(folder)
        known = self._folders.get(folder)
        if known is None or (info.get(b"UIDVALIDITY"), info.get(b"UIDNEXT")) != (
            known.uidvalidity,
            known.uidnext,
        ):
            return  # mail arrived during the scan: the selected state says so, IDLE would not
        several = len(self.mailbox.folders) > 1
        if not client.has_capability("IDLE"):
            self._stop.wait(self.poll_seconds)
            return
        seconds = self.poll_seconds if several else IDLE_RENEW_SECONDS
        self._idle(client, min(seconds, FIRST_IDLE_SECONDS) if first else seconds)

    def _idle(self, client: IMAPClient, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        client.idle()
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                began = time.monotonic()
                responses = client.idle_check(timeout=1.0)
                if not responses and time.monotonic() - began < 0.9:
                    return  # woken with nothing to read: the server hung up
                if any(_announces_mail(r) for r in responses):
                    return
        finally:
            client.idle_done()

    # One folder --------------------------------------------------------------------------

    def _connect(self) -> IMAPClient:
        mailbox = self.mailbox
        client = IMAPClient(
            mailbox.host,
            mailbox.port,
            ssl=mailbox.security == "tls",
            ssl_context=self.ssl_context,
            timeout=self.timeout,
        )
        try:
            if mailbox.security == "starttls":
                client.starttls(self.ssl_context)
            mailbox.login.authenticate(client)
        except BaseException:
            with contextlib.suppress(Exception):  # the socket may already be unusable
                client.shutdown()
            raise
        return client

    def _ensure_processed_folder(self, client: IMAPClient) -> None:
        name = self.mailbox.processed_folder
        if client.folder_exists(name):
            return
        try:
            client.create_folder(name)
        except imaplib.IMAP4.error:
            if not client.folder_exists(name):  # another gateway may have just created it
                raise

    def _scan(self, client: IMAPClient, folder: str) -> bool:
        """Store and move every message in `folder`; False if the store failed (retry later)."""
        info = client.select_folder(folder)
        state = self._folder(folder, info[b"UIDVALIDITY"])
        state.uidnext = info.get(b"UIDNEXT")
        present = set(client.search(["UNDELETED"]))
        state.stored &= present
        if state.stored:  # stored before a lost connection: only the move is missing
            present -= state.stored
            self._move(client, sorted(state.stored), state)
        for batch in self._batches(client, folder, sorted(present - state.too_big), state):
            if self._stop.is_set() or not self._take(client, folder, batch, state):
                return False
        return True

    def _folder(self, folder: str, uidvalidity: int) -> _Folder:
        state = self._folders.get(folder)
        if state is None or state.uidvalidity != uidvalidity:
            if state is not None:
                log.info("imap %s: %s has a new UIDVALIDITY, rescanning", self.mailbox.name, folder)
            state = self._folders[folder] = _Folder(uidvalidity)
        return state

    def _batches(self, client: IMAPClient, folder: str, uids: list[int], state: _Folder):
        """Bounded batches, oldest first; a message over the size limit stays where it is."""
        sizes = client.fetch(uids, ["RFC822.SIZE"]) if uids else {}
        batches: list[list[int]] = [[]]
        total = 0
        for uid in uids:
            size = sizes.get(uid, {}).get(b"RFC822.SIZE")
            if size is None:
                continue  # gone since the search
            if size > self.max_message_size:
                state.too_big.add(uid)
                log.warning(
                    "imap %s: %s UID %s has %s bytes, over the limit; left in place",
                    self.mailbox.name,
                    folder,
                    uid,
                    size,
                )
                continue
            if batches[-1] and (len(batches[-1]) >= BATCH_MESSAGES or total + size > BATCH_BYTES):
                batches.append([])
                total = 0
            batches[-1].append(uid)
            total += size
        return [batch for batch in batches if batch]

    def _take(self, client: IMAPClient, folder: str, uids: list[int], state: _Folder) -> bool:
        fetched = client.fetch(uids, ["BODY.PEEK[]"])
        uids = [uid for uid in uids if uid in fetched]  # others were moved away meanwhile
        if not uids:
            return True
        mails = [self._raw_mail(fetched[uid][b"BODY[]"], folder) for uid in uids]
        self.checkpoint("fetched")
        try:
            accepted = self.store(mails)
        except Exception as error:  # left in place and unseen; the next scan retries it
            self._trouble("store", f"{type(error).__name__}: {error}")
            return False
        state.stored.update(uids)
        self.checkpoint("stored")
        self.on_accept()
        self.checkpoint("moving")
        self._move(client, uids, state)
        new = sum(not a.duplicate for a in accepted)
        log.info(
            "imap %s: %s: stored %d, %d already known",
            self.mailbox.name,
            folder,
            new,
            len(uids) - new,
        )
        return True

    def _raw_mail(self, raw: bytes, folder: str) -> RawMail:
        return RawMail(raw, envelope_for(raw, self.mailbox, folder, self.domains))

    def _move(self, client: IMAPClient, uids: list[int], state: _Folder) -> None:
        target = self.mailbox.processed_folder
        if client.has_capability("MOVE"):
            client.move(uids, target)
        else:  # RFC 6851 section 3.3: the same effect in three steps
            client.copy(uids, target)
            client.add_flags(uids, [b"\\Deleted"], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)
            else:
                client.expunge()
        state.stored.difference_update(uids)


def _announces_mail(response: tuple) -> bool:
    return (len(response) > 1 and response[1] == b"EXISTS") or response[0] == b"BYE"
