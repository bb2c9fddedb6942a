"""A validator that stops signing is visible on every node: status, metrics and a WARNING."""

from __future__ import annotations

import pytest

from bftx.node.signing import SIGNING_WINDOW_BLOCKS
from tests.node.cluster import Cluster, Load

pytestmark = pytest.mark.slow  # real node processes


@pytest.mark.timeout(150)
def test_a_validator_that_does_not_sign_shows_on_every_node_and_the_others_warn(
    cluster: Cluster,
) -> None:
    everyone = range(cluster.size)
    cluster.wait_height(everyone, 8, timeout_s=30)
    seen = [entry["last_signed_height"] for entry in cluster.status(0)["signing"]]
    if None in seen:
        # A validator that joined late and stays out of consensus (issue 8, item 2): it is
        # the one that must show as not signing.
        silent = seen.index(None)
        others = [index for index in everyone if index != silent]
    else:
        silent = (int(cluster.status(0)["primary"]) + 1) % cluster.size
        others = [index for index in everyone if index != silent]
        assert cluster.stop(silent) == 0
    load = Load(cluster, targets=others, txs_per_second=40).start()
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
        signing = [e["last_signed_height"] for e in status["signing"] if e["validator"] != name]
        assert all(height is not None and height >= target - 5 for height in signing)
    load.stop()
    cluster.check_agreement(others)
