"""A live in-process cluster per test module, as in tests/api (see tests/api/support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.support import LiveCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("cluster") / "testnet")
    try:
        live.start()
        yield live
    finally:
        live.close()
