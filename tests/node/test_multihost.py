"""Multi-host: each validator in its own network namespace with its own IP, on one bridge.

Skipped with a reason where namespaces cannot be created (not root, no iproute2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bftx.chaos.netns import HUB_ADDRESS, NamespaceError, Namespaces, unavailable_reason
from tests.node.cluster import Cluster, Load

pytestmark = [pytest.mark.netns, pytest.mark.slow]


@pytest.fixture
def namespaces() -> Iterator[Namespaces]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    created = Namespaces(4)
    try:
        try:
            created.create()
        except NamespaceError as error:
            pytest.skip(f"cannot create network namespaces here: {error}")
        yield created
    finally:
        created.close()


@pytest.fixture
def hosts_cluster(make_cluster: Callable[..., Cluster], namespaces: Namespaces) -> Cluster:
    """Four validators, node i alone in namespace i at 10.77.0.<i+1>, started and linked."""
    cluster = make_cluster(
        4,
        hosts=namespaces.addresses,
        command_prefix=namespaces.exec_prefix,
        http_namespace=namespaces.hub,
    )
    cluster.start_all()
    return cluster


def _others(cluster: Cluster, index: int) -> list[int]:
    return [other for other in range(cluster.size) if other != index]


@pytest.mark.timeout(150)
def test_partitioned_validator_rejoins_after_the_partition_heals_and_agrees(
    hosts_cluster: Cluster, namespaces: Namespaces
) -> None:
    cluster = hosts_cluster
    for index, address in enumerate(namespaces.addresses):
        assert cluster.status(index)["node"] == f"node{index}"
        assert cluster.nodes[index].api_url.startswith(f"http://{address}:")
    assert HUB_ADDRESS not in namespaces.addresses
    primary = int(cluster.status(0)["primary"])
    victim = (primary + 1) % cluster.size
    majority = _others(cluster, victim)
    load = Load(cluster, targets=majority).start()
    cluster.wait_for(lambda: len(load.accepted) >= 10, 30, "the load to get going")

    namespaces.partition(victim)
    height_at_cut = max(cluster.height(index) for index in majority)
    cluster.wait_height(majority, height_at_cut + 30, timeout_s=60)
    cluster.wait_committed(list(load.accepted), majority, timeout_s=60)
    assert cluster.height(victim) < height_at_cut + 30, "a cut-off validator cannot commit alone"
    # Hold the partition until the links time out, so healing needs fresh dials.
    victim_name = cluster.nodes[victim].name
    cluster.wait_for(
        lambda: all(
            victim_name not in cluster.status(index)["peers_connected"] for index in majority
        ),
        30,
        f"the majority to drop its links to {victim_name}",
    )

    namespaces.heal()
    target = max(cluster.height(index) for index in majority)
    cluster.wait_height([victim], target, timeout_s=60)
    submitted = load.stop()
    cluster.wait_committed(submitted, range(cluster.size), timeout_s=60)
    assert cluster.check_agreement() >= target


@pytest.mark.timeout(150)
def test_partitioned_primary_is_replaced_and_rejoins_in_the_new_view(
    hosts_cluster: Cluster, namespaces: Namespaces
) -> None:
    cluster = hosts_cluster
    status = cluster.status(0)
    primary, view = int(status["primary"]), int(status["view"])
    majority = _others(cluster, primary)
    load = Load(cluster, targets=majority).start()
    cluster.wait_for(lambda: len(load.accepted) >= 10, 30, "the load to get going")

    namespaces.partition(primary)
    cluster.wait_for(
        lambda: all(int(cluster.status(index)["view"]) > view for index in majority),
        60,
        f"a view change away from the cut-off primary node{primary}",
    )
    height_at_view_change = max(cluster.height(index) for index in majority)
    cluster.wait_height(majority, height_at_view_change + 10, timeout_s=60)

    namespaces.heal()
    cluster.wait_connected(range(cluster.size), timeout_s=60)
    target = max(cluster.height(index) for index in majority)
    cluster.wait_height([primary], target, timeout_s=60)
    submitted = load.stop()
    cluster.wait_committed(submitted, range(cluster.size), timeout_s=60)
    assert cluster.check_agreement() >= target
