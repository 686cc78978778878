"""SMTP first: the processor waits for a quiet moment after the listener's last commit, and
never longer than its limit, however much mail keeps coming (the clock is the test's)."""

from __future__ import annotations

from gateway.edges.pacing import IntakePace


class Clock:
    def __init__(self):
        self.now = 64.0
        self.slept: list[float] = []
        self.on_sleep = None  # what happens meanwhile, e.g. the listener commits again

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0 and len(self.slept) < 1000, "a wait that never ends"
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


def pace(clock: Clock) -> IntakePace:
    # Times that add up exactly in binary: a quiet 1/32 s, a limit of 1/4 s.
    return IntakePace(quiet=0.03125, limit=0.25, clock=clock, sleep=clock.sleep)


def test_with_no_mail_coming_in_the_processor_does_not_wait():
    clock = Clock()
    assert pace(clock).give_way() == 0 and clock.slept == []


def test_a_commit_just_made_holds_the_processor_until_it_is_quiet_for_a_moment():
    clock = Clock()
    intake = pace(clock)
    intake.committed()
    clock.now += 0.0078125
    assert intake.give_way() == 0.0234375
    assert clock.slept == [0.0234375]


def test_a_commit_long_enough_ago_does_not_hold_it():
    clock = Clock()
    intake = pace(clock)
    intake.committed()
    clock.now += 0.03125
    assert intake.give_way() == 0


def test_under_mail_that_never_stops_it_waits_its_limit_and_no_longer():
    clock = Clock()
    intake = pace(clock)
    intake.committed()
    clock.on_sleep = intake.committed  # a commit every time it looks
    assert intake.give_way() == 0.25
    assert clock.slept == [0.03125] * 8  # one look per quiet period, not a busy loop
