"""Fixtures for the process tests: clusters whose processes die with the test, pass or fail."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.node.cluster import Cluster


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    """``make_cluster(validators=4, **options)``: a cluster written under ``tmp_path``, not started."""
    made: list[Cluster] = []

    def make(validators: int = 4, **options: Any) -> Cluster:
        cluster = Cluster.create(tmp_path / f"testnet{len(made)}", validators, **options)
        made.append(cluster)
        return cluster

    try:
        yield make
    finally:
        for cluster in made:
            cluster.close()
            print(cluster.log_tails())  # shown by pytest only when the test failed


@pytest.fixture
def cluster(make_cluster: Callable[..., Cluster]) -> Cluster:
    """Four validators on 127.0.0.1, started and linked to each other."""
    started = make_cluster(4)
    started.start_all()
    return started
