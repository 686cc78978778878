"""The few failures the gateway distinguishes; edges translate library errors into these."""

import traceback


class TemporaryFailure(Exception):
    """Try again later (SMTP 4xx, connection refused, timeout)."""


class PermanentFailure(Exception):
    """Trying again will not help (SMTP 5xx)."""


class ParseRefused(Exception):
    """A message could not be parsed within the limits; `reason` is a short code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def without_message(error: BaseException) -> str:
    """An unexpected error for the log: its type and where it was raised, frame by frame, but
    not its message. A library's message may quote what it was given (an address, a refusal
    naming a recipient, a line of a mail), and the log is read by people who are not meant to
    read customers' mail (research case 49); the frames are enough to find the bug."""
    frames = "".join(traceback.format_list(traceback.extract_tb(error.__traceback__)))
    return f"{type(error).__name__} (its message is not logged)\n{frames}".rstrip()
