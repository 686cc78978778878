"""Ports for the servers tests start.

A port the kernel hands out for `bind(0)` lies in its ephemeral range (32768-60999 on Linux),
which is also where every outgoing connection takes its source port: between the check and the
server's own bind, a connection to PostgreSQL or an SMTP client may take it (a CI run once
failed so). Ports here come from below that range, and none is handed out twice.
"""

from __future__ import annotations

import random
import socket
import threading

_LOW, _HIGH = 20000, 32000
_given: set[int] = set()
_lock = threading.Lock()


def free_port() -> int:
    with _lock:
        for _ in range(200):
            port = random.randrange(_LOW, _HIGH)
            if port in _given:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _given.add(port)
            return port
    raise RuntimeError(f"no free port between {_LOW} and {_HIGH}")
