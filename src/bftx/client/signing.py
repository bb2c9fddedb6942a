"""Signing API requests with the account key the SDK already holds (`bftx.access`).

`RequestSigner` is an ``httpx.Auth``: every request the sync or async client
sends is signed over its method, host, path and query, a fresh timestamp and
its body, so a permissioned network knows who asks. On an open network the
signature is checked too and ties the request to the account's rate limit.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator

import httpx

from bftx import access
from bftx.crypto import KeyPair


class RequestSigner(httpx.Auth):
    requires_request_body = True

    def __init__(self, key: KeyPair) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
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
        yield request


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
