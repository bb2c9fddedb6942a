"""schemathesis against the live /openapi.json: no 5xx, every response as the schema says.

Each operation gets a bounded number of generated requests (valid and
invalid), so the module stays well under a minute. The same run from the
command line, with every check, is in docs/api.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from bftx.api.rest import create_app
from bftx.node.runtime import Node
from tests.api.support import LiveCluster

EXAMPLES_PER_OPERATION = 25

CHECKS: list[Callable[..., Any]] = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]

CONFIG = {
    "generation": {"mode": "all"},  # valid and invalid requests
    "request-timeout": 10.0,
    "cache": {"enabled": False},
    "operations": [
        {
            # The binary body is "a string of bytes" to the schema, which cannot say
            # "the canonical encoding of a list of txs": random bytes get a 400.
            "include-path": "/v1/txs/batch",
            # 429: the node's intake budget (docs/api.md, "Load shedding") sheds valid
            # submissions once generated batches of thousands of txs have used it up.
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 400, 429]}},
        }
    ],
}

# The schema is the app's own (it does not depend on a node's state), so the
# operations can be parametrized at import; the test sends to a live cluster and
# first checks that the cluster serves this very schema.
APP_SCHEMA = create_app(cast(Node, None)).openapi()
schema = schemathesis.openapi.from_dict(APP_SCHEMA, config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture(scope="module")
def api_url(cluster: LiveCluster) -> str:
    served = cluster.http.get(f"{cluster.api_url()}/openapi.json").json()
    assert served == APP_SCHEMA
    return cluster.api_url()


@pytest.mark.timeout(120)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_as_its_schema_says(case: schemathesis.Case[Any], api_url: str) -> None:
    case.call_and_validate(base_url=api_url, checks=CHECKS)
