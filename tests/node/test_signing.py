"""A validator that stops signing is visible on every node: status, metrics and a WARNING."""

from __future__ import annotations

import pytest

from bftx.node.signing import SIGNING_WINDOW_BLOCKS
from tests.node.cluster import Cluster, Load

pytestmark = pytest.mark.slow  # real node processes


@pytest.mark.timeout(150)
def test_a_stopped_validator_shows_as_not_signing_and_the_others_warn(cluster: Cluster) -> None:
    everyone = range(cluster.size)
    cluster.wait_height(everyone, 5, timeout_s=30)
    for index in everyone:
        status = cluster.status(index)
        assert status["fault_margin"] == 1 and status["validators_not_signing"] == []
        heights = [entry["last_signed_height"] for entry in status["signing"]]
        assert all(height is not None and height >= 3 for height in heights), status["signing"]

    primary = int(cluster.status(0)["primary"])
    silent = (primary + 1) % cluster.size
    others = [index for index in everyone if index != silent]
    load = Load(cluster, targets=others, txs_per_second=40).start()
    assert cluster.stop(silent) == 0
    target = max(cluster.height(index) for index in others) + SIGNING_WINDOW_BLOCKS + 2
    cluster.wait_height(others, target, timeout_s=90)
    name = cluster.nodes[silent].name
    for index in others:
        status = cluster.status(index)
        assert status["validators_not_signing"] == [name]
        assert status["fault_margin"] == 0
        metrics = cluster.metrics(index)
        assert metrics["bftx_fault_margin"] == 0
        assert metrics[f'bftx_validator_last_signed_height{{validator="{name}"}}'] < target - 50
        assert "one fault away from stopping" in cluster.nodes[index].log()
    load.stop()
    cluster.check_agreement(others)
