"""A short fuzz run on every test run; `scripts/fuzz` runs the same target for longer.
Every crasher found is kept under tests/fixtures/fuzz/ and replayed here."""

from __future__ import annotations

import random

import pytest
from fuzz_harness import FIXTURES, mutate, run_one, seeds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.mark.parametrize("path", sorted((FIXTURES / "fuzz").glob("*.eml")), ids=lambda p: p.name)
def test_past_crashers_stay_fixed(path):
    run_one(path.read_bytes())


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=4000))
def test_random_bytes_never_crash(raw):
    run_one(raw)


SEEDS = seeds()


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, 2**32))
def test_mutated_real_mail_never_crashes(index, seed):
    run_one(mutate(SEEDS[index], random.Random(seed)))
