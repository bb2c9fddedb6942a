"""The recommit test hook puts the exactly-once bug back, and the agreement check catches it:
a checker that can fail (the chaos tool's own test relies on the same hook)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bftx.node.hooks import MUTANT
from tests.node.cluster import Cluster, Disagreement, Load

pytestmark = pytest.mark.slow  # real node processes


@pytest.mark.timeout(120)
def test_with_the_recommit_mutant_a_final_tx_is_included_again(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(4)
    for node in cluster.nodes:
        node.env[MUTANT] = "recommit"
    cluster.start_all()
    load = Load(cluster, targets=range(cluster.size))
    for _ in range(8):
        assert load.submit_one()
    with pytest.raises(Disagreement, match="was committed at height"):
        cluster.wait_for(
            lambda: cluster.scan(range(cluster.size)) or False, 60, "a tx committed twice"
        )
    assert "test hooks are active" in cluster.nodes[0].log()
