"""The SDK's request policy: signs each attempt afresh and waits out a 429 before retrying."""

from __future__ import annotations

import asyncio

import httpx

from bftx import access
from bftx.client.signing import RETRIES_ON_429, RequestPolicy, retry_after_s
from bftx.crypto import KeyPair


class Node:
    """A node that sheds the first ``busy`` requests with 429, then answers 200."""

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.seen: list[dict[str, str]] = []  # each attempt's headers, as sent

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(dict(request.headers))
        if len(self.seen) <= self.busy:
            return httpx.Response(429, headers={"retry-after": "0"}, json={"code": "overloaded"})
        return httpx.Response(200, json={"ok": True})


def test_a_429_is_retried_and_each_attempt_is_signed_afresh() -> None:
    node = Node(busy=2)
    key = KeyPair.generate()
    with httpx.Client(transport=httpx.MockTransport(node), auth=RequestPolicy(key)) as http:
        response = http.post("http://node/v1/txs", json={"tx": "0x00"})
    assert response.status_code == 200
    assert len(node.seen) == 3
    signatures = {headers[access.HEADER_SIGNATURE] for headers in node.seen}
    assert len(signatures) == 3, "a retried signature would be refused as replayed"


def test_retries_stop_after_the_bound_and_the_429_reaches_the_caller() -> None:
    node = Node(busy=100)
    with httpx.Client(transport=httpx.MockTransport(node), auth=RequestPolicy(None)) as http:
        response = http.get("http://node/v1/markets")
    assert response.status_code == 429
    assert len(node.seen) == RETRIES_ON_429 + 1
    assert access.HEADER_SIGNATURE not in node.seen[0]  # no key: nothing signed


def test_the_async_client_retries_too() -> None:
    node = Node(busy=1)

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(
            transport=httpx.MockTransport(node), auth=RequestPolicy(KeyPair.generate())
        ) as http:
            return await http.get("http://node/v1/markets")

    assert asyncio.run(ask()).status_code == 200
    assert len(node.seen) == 2


def test_retry_after_is_bounded_and_defaults_when_unusable() -> None:
    def pause(value: str | None) -> float:
        headers = {"retry-after": value} if value is not None else {}
        return retry_after_s(httpx.Response(429, headers=headers))

    assert pause("2") == 2.0
    assert pause("3600") == 10.0
    assert pause("-1") == 0.0
    assert pause("Wed, 21 Oct 2015 07:28:00 GMT") == 0.5
    assert pause(None) == 0.5
