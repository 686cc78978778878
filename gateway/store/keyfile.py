"""The key file: master keys kept outside the database, readable by their owner only.

Data keys in the database are wrapped by these keys, so a copy of the database without this file
reveals nothing. Rotation adds a key and makes it current; old ones stay until every data key is
re-wrapped (`gateway keys rotate`), then are retired.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

log = logging.getLogger(__name__)


class MasterKeyMissing(Exception):
    """The key file (or a master key that wrapped a data key) is not available."""


class KeyFile:
    """`{"current": id, "keys": {id: base64}, "erased": [data key row keys]}`, mode 0600.

    Rotation adds a key and makes it current; the old ones stay until every data key has been
    re-wrapped. `erased` lists the data keys destroyed by erasures: a database restored from an
    older backup still holds them wrapped, and the gateway refuses to use them (and destroys them
    again at `gateway init`). Other processes notice a changed file at their next use of it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._keys: dict[str, bytes] = {}
        self._current = ""
        self._erased: frozenset[str] = frozenset()
        self._retired: dict[str, bytes] = {}  # kept in memory by the process that retired them
        self._stamp: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def exists(self) -> bool:
        return self.path.exists()

    def create(self) -> None:
        """A new key file with one master key (refuses to overwrite one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._edit(new=True) as document:
            key_id = secrets.token_hex(4)
            document.update(current=key_id, keys={key_id: _new_key()}, erased=[])

    def current(self) -> tuple[str, bytes]:
        self._refresh()
        return self._current, self._keys[self._current]

    def key(self, key_id: str) -> bytes:
        self._refresh()
        if key_id not in self._keys:
            self._refresh(force=True)
        if key_id in self._retired:
            return self._retired[key_id]
        if key_id not in self._keys:
            raise MasterKeyMissing(f"master key {key_id} is not in {self.path}")
        return self._keys[key_id]

    def ids(self) -> list[str]:
        self._refresh()
        return list(self._keys)

    def erased(self) -> frozenset[str]:
        self._refresh()
        return self._erased

    def add(self) -> str:
        """Add a new master key and make it current; returns its id."""
        with self._edit() as document:
            key_id = secrets.token_hex(4)
            document["keys"][key_id] = _new_key()
            document["current"] = key_id
        return key_id

    def retire_others(self) -> list[str]:
        """Drop every master key but the current one; returns the dropped ids."""
        with self._edit() as document:
            dropped = [k for k in document["keys"] if k != document["current"]]
            for key_id in dropped:
                self._retired[key_id] = base64.b64decode(document["keys"].pop(key_id))
        return dropped

    def add_erased(self, row_key: str) -> None:
        with self._edit() as document:
            document.setdefault("erased", []).append(row_key)

    def _refresh(self, force: bool = False) -> None:
        with self._lock:
            try:
                info = self.path.stat()
            except FileNotFoundError:
                raise MasterKeyMissing(
                    f"key file {self.path} is missing: restore it (without it the encrypted data "
                    "cannot be read), or run `gateway init` on a new, empty database"
                ) from None
            stamp = (info.st_mtime_ns, info.st_ino)
            if stamp == self._stamp and not force:
                return
            if info.st_mode & 0o077:
                log.warning("key file %s is readable by others: chmod 600 it", self.path)
            document = json.loads(self.path.read_text(encoding="utf-8"))
            self._keys = {k: base64.b64decode(v) for k, v in document["keys"].items()}
            self._current, self._stamp = document["current"], stamp
            self._erased = frozenset(document.get("erased", ()))

    @contextmanager
    def _edit(self, new: bool = False) -> Iterator[dict]:
        """Read, change and rewrite the file under a lock; atomic (a temporary file, then
        rename) and owner-only from its creation."""
        lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            if new and self.path.exists():
                raise FileExistsError(str(self.path))
            document = {} if new else json.loads(self.path.read_text(encoding="utf-8"))
            yield document
            temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(document, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        finally:
            os.close(lock_fd)
        self._refresh(force=True)


def _new_key() -> str:
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
