"""The few failures the gateway distinguishes; edges translate library errors into these."""


class TemporaryFailure(Exception):
    """Try again later (SMTP 4xx, connection refused, timeout)."""


class PermanentFailure(Exception):
    """Trying again will not help (SMTP 5xx)."""
