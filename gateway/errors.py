"""The few failures the gateway distinguishes; edges translate library errors into these."""


class TemporaryFailure(Exception):
    """Try again later (SMTP 4xx, connection refused, timeout)."""


class PermanentFailure(Exception):
    """Trying again will not help (SMTP 5xx)."""


class ParseRefused(Exception):
    """A message could not be parsed within the limits; `reason` is a short code."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail
