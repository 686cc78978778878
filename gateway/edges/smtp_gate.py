"""How many SMTP connections the listener holds open, in all and from one address.

A client that opens connections and never finishes a command (or drips one byte at a time)
holds a file descriptor each until aiosmtpd's five-minute command timeout; without a cap a
single address could take them all and no one else would reach us. Beyond either cap a new
connection is told 421 at once and closed, as Postfix's smtpd does, and tries again later.
"""

from __future__ import annotations

import threading

PER_ADDRESS = "Too many connections from your address; please try again later"
IN_ALL = "Too many connections right now; please try again later"


class ConnectionGate:
    """Counts open connections; `admit` says why one may not open (None: it may)."""

    def __init__(self, max_connections: int, max_per_address: int):
        self.max_connections, self.max_per_address = max_connections, max_per_address
        self._open: dict[str, int] = {}
        self._total = 0
        self._lock = threading.Lock()  # the event loop's thread only, unless a test asks

    def admit(self, address: str) -> str | None:
        with self._lock:
            if self.max_connections and self._total >= self.max_connections:
                return IN_ALL
            held = self._open.get(address, 0)
            if self.max_per_address and held >= self.max_per_address:
                return PER_ADDRESS
            self._open[address] = held + 1
            self._total += 1
            return None

    def release(self, address: str) -> None:
        with self._lock:
            held = self._open.get(address, 0) - 1
            if held > 0:
                self._open[address] = held
            else:
                self._open.pop(address, None)
            self._total -= 1

    def open_from(self, address: str) -> int:
        with self._lock:
            return self._open.get(address, 0)


def peer_address(peername) -> str:
    """The client's IP address from asyncio's peername (a tuple for IP, else a path)."""
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return str(peername or "")
