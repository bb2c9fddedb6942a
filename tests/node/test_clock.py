"""The node clock: monotonic for timers, close to the wall clock for block timestamps."""

from __future__ import annotations

from bftx.node.clock import NodeClock

MS = 1_000_000
HOUR_MS = 3_600_000


class FakeTime:
    def __init__(self) -> None:
        self.wall = 1_700_000_000_000 * MS
        self.monotonic = 5_000 * MS

    def advance(self, milliseconds: int) -> None:
        self.wall += milliseconds * MS
        self.monotonic += milliseconds * MS


def make_clock() -> tuple[FakeTime, NodeClock]:
    fake = FakeTime()
    return fake, NodeClock(lambda: fake.wall, lambda: fake.monotonic)


def test_it_reads_the_wall_clock_while_the_wall_clock_behaves() -> None:
    fake, clock = make_clock()
    for _ in range(100):
        fake.advance(7)
        assert clock() == fake.wall // MS


def test_a_wall_clock_stepped_back_never_moves_it_back_and_is_caught_up_slowly() -> None:
    fake, clock = make_clock()
    before = clock()
    fake.wall -= HOUR_MS * MS  # an NTP step back by an hour
    readings = []
    for _ in range(1_000):
        fake.advance(10)
        readings.append(clock())
    steps = [b - a for a, b in zip([before, *readings], readings, strict=False)]
    assert all(9 <= step <= 11 for step in steps)  # timers keep running at 90-110 % speed
    assert readings[-1] > fake.wall // MS  # still ahead: it slews, it does not jump


def test_a_wall_clock_stepped_forward_is_followed_gradually() -> None:
    fake, clock = make_clock()
    fake.wall += 5_000 * MS
    previous = clock()
    for _ in range(10_000):
        fake.advance(10)
        now = clock()
        assert 10 <= now - previous <= 11
        previous = now
    assert previous == fake.wall // MS  # caught up after 50 s
