"""The node process's garbage collector: its young threshold, and its pauses as metrics."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bftx import limits
from bftx.node.collection import PAUSE_BUCKETS_S, CollectorPauses, tune_collector
from bftx.node.metrics import NodeMetrics


@pytest.fixture
def thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    yield
    gc.set_threshold(*saved)


def test_tuning_sets_the_young_threshold_and_keeps_the_older_ones(thresholds: None) -> None:
    gc.set_threshold(700, 11, 12)
    tune_collector()
    assert gc.get_threshold() == (limits.gc_young_objects, 11, 12)
    tune_collector(5_000)
    assert gc.get_threshold() == (5_000, 11, 12)


def test_a_threshold_of_zero_is_refused_not_taken_as_no_collection(thresholds: None) -> None:
    before = gc.get_threshold()
    with pytest.raises(ValueError, match="at least 1"):
        tune_collector(0)
    assert gc.get_threshold() == before


@pytest.fixture
def explicit_collections_only() -> Iterator[None]:
    """No automatic collection between a test's own `gc.collect` calls, so counts are exact."""
    was_enabled = gc.isenabled()
    gc.disable()  # gc.collect still runs, and still calls the callbacks
    yield
    if was_enabled:
        gc.enable()


class SteppingClock:
    """Each reading is ``step`` seconds after the one before."""

    def __init__(self, step: float) -> None:
        self.step, self.now = step, 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_each_collection_is_counted_by_generation_in_the_bucket_of_its_pause(
    explicit_collections_only: None,
) -> None:
    pauses = CollectorPauses(clock=SteppingClock(0.03))  # every pause reads 30 ms
    pauses.install()
    try:
        gc.collect(0)
        gc.collect(2)
        gc.collect(2)
    finally:
        pauses.remove()
    assert [pauses.collections(generation) for generation in range(3)] == [1, 0, 2]
    bucket = PAUSE_BUCKETS_S.index(0.05)  # the first bound at or above 30 ms
    assert pauses.bucket_counts[2][bucket] == 2
    assert sum(pauses.bucket_counts[2]) == 2
    assert pauses.seconds[2] == pytest.approx(0.06)


def test_a_pause_past_the_last_bound_is_counted_above_it(explicit_collections_only: None) -> None:
    pauses = CollectorPauses(clock=SteppingClock(1.0))
    pauses.install()
    try:
        gc.collect(1)
    finally:
        pauses.remove()
    assert pauses.bucket_counts[1][-1] == 1


def test_nothing_is_counted_once_removed(explicit_collections_only: None) -> None:
    pauses = CollectorPauses()
    pauses.install()
    pauses.install()  # once only: a second install adds no second callback
    gc.collect(0)
    assert pauses.collections(0) == 1
    pauses.remove()
    gc.collect(0)
    assert pauses.collections(0) == 1
    assert all(callback is not pauses._on_collection for callback in gc.callbacks)


def test_the_metrics_show_the_pauses_as_a_histogram_per_generation(
    explicit_collections_only: None,
) -> None:
    metrics = NodeMetrics()
    pauses = CollectorPauses(clock=SteppingClock(0.02))
    metrics.add_gc_pauses(pauses)
    pauses.install()
    try:
        gc.collect(2)
    finally:
        pauses.remove()
    text = metrics.render().decode()
    assert 'bftx_gc_pause_seconds_bucket{generation="2",le="0.01"} 0.0' in text
    assert 'bftx_gc_pause_seconds_bucket{generation="2",le="0.025"} 1.0' in text
    assert 'bftx_gc_pause_seconds_bucket{generation="2",le="+Inf"} 1.0' in text
    assert 'bftx_gc_pause_seconds_count{generation="0"} 0.0' in text
    assert 'bftx_gc_pause_seconds_sum{generation="2"} 0.02' in text
