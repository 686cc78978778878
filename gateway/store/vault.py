"""Encryption at rest: AES-256-GCM under data keys, data keys wrapped by a master key kept in a
file outside the database (the key file), so a copy of the database alone reveals nothing.

A sealed value is `01 | data key id (8 bytes) | nonce (12) | ciphertext and tag`. Its associated
data names the table, column and row key it belongs to, so a ciphertext copied to another row or
column does not open. Destroying a data key (crypto-shredding) makes everything sealed under it
unreadable, wherever copies of the database went.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert, select, update

from gateway.store.keyfile import KeyFile, MasterKeyMissing
from gateway.store.tables import DataKey

log = logging.getLogger(__name__)

VERSION = b"\x01"
_HEAD = 1 + 8 + 12
# An unwrapped contact key is reused this long, then read again, so a key destroyed by another
# process (an erasure from the command line) stops opening data here within this delay.
CACHE_SECONDS = 60.0
FIXED_PURPOSES = ("company", "index")


class SealBroken(Exception):
    """A sealed value does not open: moved from another row, altered, or under an unknown key."""


class Vault:
    """Seals and opens values for one database; caches unwrapped data keys per process."""

    def __init__(self, key_file: Path, cache_seconds: float = CACHE_SECONDS):
        self.keys = KeyFile(key_file)
        self.cache_seconds = cache_seconds
        self._deks: dict[int, tuple[AESGCM | None, float]] = {}
        self._fixed: dict[str, int] = {}
        self._index_key: bytes | None = None
        self._lock = threading.Lock()

    # Set-up ------------------------------------------------------------------------------

    def prepare(self, conn) -> None:
        """Create the key file for a new database and the company and index keys (idempotent).

        A database that already has data keys but no key file is an error, never a new file:
        a fresh master key would silently make every existing record unreadable."""
        has_keys = conn.execute(select(DataKey.id).limit(1)).first() is not None
        if not self.keys.exists():
            if has_keys:
                self.keys.current()  # raises MasterKeyMissing with the explanation
            self.keys.create()
        for purpose in FIXED_PURPOSES:
            if self._find_fixed(conn, purpose) is None:
                self.new_data_key(conn, purpose)
        erased = sorted(self.keys.erased())
        if erased:  # a database restored from a backup taken before some erasures
            conn.execute(
                update(DataKey)
                .where(DataKey.row_key.in_(erased), DataKey.wrapped.is_not(None))
                .values(wrapped=None, destroyed_at=datetime.now(UTC))
            )

    # Data keys ---------------------------------------------------------------------------

    def new_data_key(self, conn, purpose: str) -> int:
        master_id, master = self.keys.current()
        row_key = secrets.token_hex(8)
        dek = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        wrapped = nonce + AESGCM(master).encrypt(nonce, dek, _wrap_aad(row_key, purpose))
        statement = insert(DataKey).values(
            purpose=purpose, row_key=row_key, master_key_id=master_id, wrapped=wrapped,
            created_at=datetime.now(UTC),
        ).returning(DataKey.id)  # fmt: skip
        key_id = conn.execute(statement).scalar_one()
        self._remember(key_id, AESGCM(dek))
        return key_id

    def destroy(self, conn, key_id: int) -> None:
        """Crypto-shredding: the wrapped key is overwritten and listed in the key file as erased
        (so a restored backup's copy is refused too); nothing under it opens again."""
        row_key = conn.execute(select(DataKey.row_key).where(DataKey.id == key_id)).scalar_one()
        self.keys.add_erased(row_key)
        conn.execute(
            update(DataKey)
            .where(DataKey.id == key_id)
            .values(wrapped=None, destroyed_at=datetime.now(UTC))
        )
        with self._lock:
            self._deks[key_id] = (None, float("inf"))

    def fixed_key(self, conn, purpose: str) -> int:
        """The company key (staff-written text, unknown senders' mail) or the index key."""
        if purpose not in self._fixed:
            key_id = self._find_fixed(conn, purpose)
            if key_id is None:
                raise MasterKeyMissing(f"no {purpose} key: run `gateway init`")
            self._fixed[purpose] = key_id
        return self._fixed[purpose]

    def _find_fixed(self, conn, purpose: str) -> int | None:
        query = select(DataKey.id).where(DataKey.purpose == purpose).order_by(DataKey.id)
        return conn.execute(query).scalars().first()

    def _dek(self, conn, key_id: int) -> AESGCM | None:
        """The unwrapped key (None once destroyed); raises SealBroken for an unknown id."""
        cached = self._deks.get(key_id)
        if cached is not None and (cached[1] > time.monotonic() or key_id in self._fixed.values()):
            return cached[0]
        raw = self._unwrap(conn, key_id)
        dek = AESGCM(raw) if raw is not None else None
        self._remember(key_id, dek)
        return dek

    def _unwrap(self, conn, key_id: int) -> bytes | None:
        row = conn.execute(
            select(DataKey.purpose, DataKey.row_key, DataKey.master_key_id, DataKey.wrapped)
            .where(DataKey.id == key_id)
        ).first()  # fmt: skip
        if row is None:
            raise SealBroken(f"no data key {key_id}")
        purpose, row_key, master_id, wrapped = row
        if wrapped is None or row_key in self.keys.erased():
            return None
        master = AESGCM(self.keys.key(master_id))
        try:
            return master.decrypt(wrapped[:12], wrapped[12:], _wrap_aad(row_key, purpose))
        except InvalidTag:
            raise SealBroken(f"data key {key_id} does not unwrap") from None

    def _remember(self, key_id: int, dek: AESGCM | None) -> None:
        with self._lock:
            self._deks[key_id] = (dek, time.monotonic() + self.cache_seconds)

    def is_destroyed(self, conn, key_id: int) -> bool:
        return self._dek(conn, key_id) is None

    # Values ------------------------------------------------------------------------------

    def seal(self, conn, key_id: int, where: tuple[str, str, str], data: bytes) -> bytes:
        dek = self._dek(conn, key_id)
        if dek is None:
            raise SealBroken(f"data key {key_id} was destroyed: nothing more is sealed under it")
        nonce = secrets.token_bytes(12)
        head = VERSION + key_id.to_bytes(8, "big") + nonce
        return head + dek.encrypt(nonce, data, _aad(where, key_id))

    def open(self, conn, sealed: bytes, where: tuple[str, str, str]) -> bytes | None:
        """The plain bytes, or None when the data key was destroyed (an erased contact)."""
        if not isinstance(sealed, bytes | bytearray | memoryview):
            raise SealBroken(f"{'.'.join(where[:2])} holds an unsealed value")
        sealed = bytes(sealed)
        if len(sealed) < _HEAD + 16 or sealed[:1] != VERSION:
            raise SealBroken(f"{'.'.join(where[:2])} of row {where[2]} is not a sealed value")
        key_id = int.from_bytes(sealed[1:9], "big")
        dek = self._dek(conn, key_id)
        if dek is None:
            return None
        try:
            return dek.decrypt(sealed[9:_HEAD], sealed[_HEAD:], _aad(where, key_id))
        except InvalidTag:
            raise SealBroken(
                f"{'.'.join(where[:2])} of row {where[2]} does not open: it was altered or moved"
            ) from None

    @staticmethod
    def key_of(sealed: bytes) -> int:
        return int.from_bytes(bytes(sealed)[1:9], "big")

    def index(self, conn, text: str) -> str:
        """A keyed digest for lookups (a contact's address) that reveals nothing by itself."""
        return hmac.new(self._index(conn), text.encode("utf-8"), hashlib.sha256).hexdigest()

    def blob_id(self, conn, key_id: int, data: bytes) -> str:
        """Attachments are stored once per owner and content; the id hides the content."""
        mac = hmac.new(self._index(conn), b"blob:%d:" % key_id, hashlib.sha256)
        mac.update(data)
        return mac.hexdigest()

    def _index(self, conn) -> bytes:
        if self._index_key is None:
            self._index_key = self._unwrap(conn, self.fixed_key(conn, "index"))
        return self._index_key

    # Rotation ----------------------------------------------------------------------------

    def rewrap(self, conn, limit: int = 200) -> int:
        """Re-wrap up to `limit` live data keys not under the current master key; how many."""
        master_id, current = self.keys.current()
        master = AESGCM(current)
        rows = conn.execute(
            select(DataKey.id, DataKey.purpose, DataKey.row_key, DataKey.master_key_id,
                   DataKey.wrapped)
            .where(DataKey.master_key_id != master_id, DataKey.wrapped.is_not(None))
            .limit(limit)
        ).all()  # fmt: skip
        for key_id, purpose, row_key, old_id, wrapped in rows:
            aad = _wrap_aad(row_key, purpose)
            dek = AESGCM(self.keys.key(old_id)).decrypt(wrapped[:12], wrapped[12:], aad)
            nonce = secrets.token_bytes(12)
            conn.execute(
                update(DataKey)
                .where(DataKey.id == key_id, DataKey.master_key_id == old_id)
                .values(master_key_id=master_id, wrapped=nonce + master.encrypt(nonce, dek, aad))
            )  # fmt: skip
        return len(rows)

    def keys_under(self, conn) -> dict[str, int]:
        """How many live data keys each master key wraps."""
        rows = conn.execute(
            select(DataKey.master_key_id).where(DataKey.wrapped.is_not(None))
        ).scalars()
        counts: dict[str, int] = {}
        for master_id in rows:
            counts[master_id] = counts.get(master_id, 0) + 1
        return counts


def _aad(where: tuple[str, str, str], key_id: int) -> bytes:
    table, column, row_key = where
    return f"gateway/v1/{table}/{column}/{row_key}/{key_id}".encode()


def _wrap_aad(row_key: str, purpose: str) -> bytes:
    return f"gateway/v1/datakey/{purpose}/{row_key}".encode()
