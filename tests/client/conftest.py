"""A live in-process cluster per test module, as in tests/api (see tests/api/support.py).

Every test starts from an empty book, so no test's order crosses another's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bftx.client import Client
from tests.api.support import LiveCluster, wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("cluster") / "testnet")
    try:
        live.start()
        yield live
    finally:
        live.close()


@pytest.fixture(autouse=True)
def empty_book(cluster: LiveCluster) -> None:
    """Cancel every resting order first."""
    for key in cluster.accounts.values():
        url = f"{cluster.api_url()}/v1/accounts/{key.address.hex()}/orders"
        if cluster.http.get(url).json():
            with Client(cluster.api_url(), key=key, wait=False) as owner:
                for order in owner.fetch_open_orders():
                    owner.cancel_order(order["id"])
    with Client(cluster.api_url()) as public:

        def is_empty() -> bool:
            book = public.fetch_order_book("BTC/USD", 1000)
            return not book["bids"] and not book["asks"]

        wait_for(is_empty, 10.0, "an empty book")
