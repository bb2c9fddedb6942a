"""A node halts rather than lies: an exception inside the application stops it at once, a
restart without the fault recovers from its store and the node rejoins (docs/node.md)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bftx.node.hooks import FAULT_EXECUTE_HEIGHT
from tests.node.cluster import Cluster, Load

pytestmark = pytest.mark.slow  # real node processes

FAULT_HEIGHT = 6


@pytest.mark.timeout(150)
def test_exception_in_the_application_halts_the_node_and_a_restart_recovers(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(4)
    victim = 2
    cluster.nodes[victim].env[FAULT_EXECUTE_HEIGHT] = str(FAULT_HEIGHT)
    cluster.start_all()
    others = [index for index in range(cluster.size) if index != victim]
    load = Load(cluster, targets=others).start()

    cluster.wait_for(
        lambda: cluster.health(victim)[0] == 503, 60, f"node{victim} to halt at {FAULT_HEIGHT}"
    )
    code, problem = cluster.health(victim)
    assert code == 503 and problem["code"] == "halted"
    assert "InjectedFault" in problem["detail"]
    status = cluster.status(victim)
    assert status["halted"] == problem["detail"]
    assert status["height"] == FAULT_HEIGHT - 1  # nothing executed at or past the fault
    assert cluster.metrics(victim)["bftx_halted"] == 1
    log = cluster.nodes[victim].log()
    assert "Traceback" in log and "InjectedFault" in log  # the traceback is in the log
    _trader, tx = Load(cluster, targets=[victim]).next_tx()
    refused = cluster.submit(victim, tx)
    assert refused["code"] == "halted"

    # Three validators keep going without it; the halted one signs nothing meanwhile.
    cluster.wait_height(others, FAULT_HEIGHT + 10, timeout_s=60)
    assert cluster.height(victim) == FAULT_HEIGHT - 1

    assert cluster.stop(victim) == 0
    del cluster.nodes[victim].env[FAULT_EXECUTE_HEIGHT]
    cluster.restart(victim)
    target = max(cluster.height(index) for index in others)
    cluster.wait_height([victim], target, timeout_s=60)
    assert cluster.health(victim)[0] == 200
    submitted = load.stop()
    cluster.wait_committed(submitted, range(cluster.size), timeout_s=60)
    cluster.check_agreement()
