"""How the SDK sends each request: signed with the account key it holds, and patient on 429.

`RequestPolicy` is an ``httpx.Auth`` installed on the sync and async
clients. With a key, every request is signed (`bftx.access`) over its method,
host, path and query, a fresh timestamp and nonce, and its body, so a
permissioned network knows who asks. With or without a key, a ``429`` (the
node sheds load, or the identity is over its rate) is retried after the
``Retry-After`` the node sent, up to `RETRIES_ON_429` times, each attempt
signed afresh: the user sees a slower call, not an error.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncGenerator, Generator

import httpx

from bftx import access
from bftx.crypto import KeyPair

RETRIES_ON_429 = 5
RETRY_AFTER_S_MAX = 10.0  # a longer Retry-After is honoured only up to this
RETRY_AFTER_S_DEFAULT = 0.5  # when a 429 carries no usable Retry-After


class RequestPolicy(httpx.Auth):
    requires_request_body = True
    requires_response_body = True

    def __init__(self, key: KeyPair | None) -> None:
        self._key = key

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        for attempt in range(RETRIES_ON_429 + 1):
            response = yield self._signed(request)
            if response.status_code != 429 or attempt == RETRIES_ON_429:
                return
            time.sleep(retry_after_s(response))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        for attempt in range(RETRIES_ON_429 + 1):
            response = yield self._signed(request)
            if response.status_code != 429 or attempt == RETRIES_ON_429:
                return
            await asyncio.sleep(retry_after_s(response))

    def _signed(self, request: httpx.Request) -> httpx.Request:
        if self._key is not None:
            request.headers.update(
                access.sign_request(
                    self._key,
                    request.method,
                    request.url.netloc.decode("ascii"),
                    request.url.raw_path.decode("ascii"),
                    now_ms(),
                    request.content,
                    secrets.token_bytes(16),
                )
            )
        return request


def retry_after_s(response: httpx.Response) -> float:
    """The pause a 429 asks for (RFC 9110 delay-seconds), bounded."""
    text = response.headers.get("retry-after", "")
    try:
        seconds = float(text)
    except ValueError:
        return RETRY_AFTER_S_DEFAULT
    return min(max(seconds, 0.0), RETRY_AFTER_S_MAX)


def websocket_headers(key: KeyPair | None, ws_url: str) -> dict[str, str]:
    """Headers that sign a WebSocket upgrade to ``ws_url`` (none without a key)."""
    if key is None:
        return {}
    url = httpx.URL(ws_url)
    authority, target = url.netloc.decode("ascii"), url.raw_path.decode("ascii")
    return access.sign_request(
        key, "GET", authority, target, now_ms(), b"", secrets.token_bytes(16)
    )


def grpc_metadata(key: KeyPair, method: str) -> tuple[tuple[str, str], ...]:
    """Metadata that signs one gRPC call to ``method`` ("/bftx.v1.Bftx/GetAccount")."""
    headers = access.sign_request(key, "POST", "", method, now_ms(), b"", secrets.token_bytes(16))
    return tuple(headers.items())


def now_ms() -> int:
    return int(time.time() * 1000)
