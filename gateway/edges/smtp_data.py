"""The message after DATA, read into one buffer, with a budget for all sessions together.

aiosmtpd 1.4 keeps each line of a message as a bytearray of its own until the final dot:
24 MiB of empty lines took 2.1 GB, so a few clients could have had the listener killed for
want of memory. This reader keeps aiosmtpd's reading of the stream (a line ends at CRLF only,
so a bare LF never ends a message; a lone dot ends it; a line over 1001 bytes or a message over
the size limit is read to its end and then refused; a leading dot is removed from each line)
but appends the lines to one buffer, and counts the bytes every open session holds against one
budget: past it, the message is read to its end without being kept and answered 452, so the
sender tries again in a few minutes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class DataBudget:
    """Bytes of messages being received, all sessions of one listener together (its event
    loop's thread alone touches it)."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0

    def take(self, size: int) -> bool:
        if self.limit and self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give_back(self, size: int) -> None:
        self.used -= size


class Ending(Enum):
    WHOLE = "whole"
    LINE_TOO_LONG = "line too long"
    TOO_BIG = "too big"
    TOO_BUSY = "over the listener's budget"
    CLOSED = "connection closed"


@dataclass
class Received:
    ending: Ending
    content: bytes
    held: int  # bytes taken from the budget, given back once the message is answered


async def read_message(
    reader: asyncio.StreamReader,
    size_limit: int,
    line_limit: int,
    budget: DataBudget,
    connected: Callable[[], bool],
) -> Received:
    held = [0]  # bytes taken from the budget so far; given back here if reading is cut off
    try:
        return await _read(reader, size_limit, line_limit, budget, connected, held)
    except BaseException:  # a client hanging up cancels the read: nothing stays counted
        budget.give_back(held[0])
        raise


async def _read(reader, size_limit, line_limit, budget, connected, held: list[int]) -> Received:
    content = bytearray()
    ending, total, mid_line = Ending.WHOLE, 0, False
    while connected():
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError as error:  # longer than the reader's limit: drained
            ending = ending if ending is not Ending.WHOLE else Ending.LINE_TOO_LONG
            line = await reader.read(error.consumed)
        if not mid_line and line == b".\r\n":
            return Received(ending, bytes(content) if ending is Ending.WHOLE else b"", held[0])
        total += len(line)
        starts_line, mid_line = not mid_line, not line.endswith(b"\r\n")
        if ending is not Ending.WHOLE:
            continue  # read to the end, kept nowhere
        if size_limit and total > size_limit:
            ending = Ending.TOO_BIG
        elif len(line) > line_limit:
            ending = Ending.LINE_TOO_LONG
        elif not budget.take(len(line)):
            ending = Ending.TOO_BUSY
        else:
            held[0] += len(line)
            content += line[1:] if starts_line and line[:1] == b"." else line
            continue
        content = bytearray()  # the refusal is known: what was read is let go at once
    return Received(Ending.CLOSED, b"", held[0])
