"""schemathesis with permissioned reads on: every generated request signed as the auditor.

The same operations and checks as test_schemathesis.py, against a cluster
whose genesis says ``"reads": "permissioned"``: signing changes nothing in
what the schema promises (no 5xx, every response as documented).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from bftx import access
from bftx.crypto import KeyPair
from tests.api.support import LiveCluster
from tests.api.test_schemathesis import APP_SCHEMA, CHECKS, EXAMPLES_PER_OPERATION, schema


class SignedAs(requests.auth.AuthBase):
    """Signs a `requests` request the way the SDK's RequestPolicy signs an httpx one."""

    def __init__(self, key: KeyPair) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = urlsplit(request.url or "")
        target = url.path + (f"?{url.query}" if url.query else "")
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        request.headers.update(
            access.sign_request(
                self._key,
                request.method or "GET",
                url.netloc,
                target,
                int(time.time() * 1000),
                body,
                os.urandom(16),
            )
        )
        return request


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("permissioned") / "testnet", permissioned_reads=True)
    try:
        live.start()
        yield live
    finally:
        live.close()


@pytest.fixture(scope="module")
def signed_api(cluster: LiveCluster) -> tuple[str, SignedAs]:
    auth = SignedAs(cluster.accounts["auditor"])
    served = requests.get(f"{cluster.api_url()}/openapi.json", timeout=5).json()
    assert served == APP_SCHEMA
    assert requests.get(f"{cluster.api_url()}/v1/markets", timeout=5).status_code == 401
    assert requests.get(f"{cluster.api_url()}/v1/markets", auth=auth, timeout=5).ok
    return cluster.api_url(), auth


@pytest.mark.timeout(120)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_a_permissioned_api_answers_as_its_schema_says(
    case: schemathesis.Case[Any], signed_api: tuple[str, SignedAs]
) -> None:
    base_url, auth = signed_api
    case.call_and_validate(base_url=base_url, checks=CHECKS, auth=auth)
