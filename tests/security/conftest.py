"""Attack tests: one file per attack, each against a gateway that verifies senders itself."""

from __future__ import annotations

import pytest
from trustkit import start_verifying


@pytest.fixture
def verifying(start_gateway):
    return start_verifying(start_gateway)
