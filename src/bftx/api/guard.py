"""Limits applied to client input before any work is done on it.

Owns the HTTP request-body bound (an ASGI middleware in front of the REST
app) and the JSON nesting bound used by the WebSocket protocol. A body whose
declared ``Content-Length`` is over the bound is refused with 413 before a
byte of it is read; a body without one (chunked) is counted as it arrives and
refused the moment it passes the bound, so a node never holds more than the
bound plus one chunk of a hostile request in memory.

Must never: read or buffer a body past the bound, or let the app answer a
request this middleware already refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from bftx import limits

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

PROBLEM = "application/problem+json"
_DECIMAL = re.compile(r"[0-9]{1,19}")


def problem_document(status: int, code: str, detail: str) -> dict[str, Any]:
    """The problem+json document (RFC 9457) every REST error is answered with."""
    return {
        "type": f"https://bftx.dev/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
    }


class BodyLimit:
    """Refuse HTTP request bodies over ``bytes_max`` before reading them (413 problem+json)."""

    def __init__(self, app: App, bytes_max: int = limits.api_request_bytes_max) -> None:
        self._app = app
        self._bytes_max = bytes_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await refuse(send, 400, "invalid_request", "Content-Length is not a decimal integer")
            return
        if declared > self._bytes_max:
            await refuse(send, 413, "request_too_large", self._too_large(f"{declared} bytes"))
            return
        await _CountedRequest(self, scope, receive, send).run()

    def _too_large(self, size: str) -> str:
        return f"a request body is at most {self._bytes_max} bytes, this one {size}"


class _CountedRequest:
    """One request whose body is counted as the app reads it."""

    def __init__(self, limit: BodyLimit, scope: Scope, receive: Receive, send: Send) -> None:
        self._limit = limit
        self._scope = scope
        self._receive = receive
        self._send = send
        self._received_bytes = 0
        self._refused = False
        self._response_started = False

    async def run(self) -> None:
        await self._limit._app(self._scope, self._counted_receive, self._guarded_send)

    async def _counted_receive(self) -> Message:
        if self._refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self._received_bytes += len(message.get("body", b""))
            if self._received_bytes > self._limit._bytes_max:
                self._refused = True
                if not self._response_started:
                    detail = self._limit._too_large(f"over {self._limit._bytes_max} bytes")
                    await refuse(self._send, 413, "request_too_large", detail)
                return {"type": "http.disconnect"}
        return message

    async def _guarded_send(self, message: Message) -> None:
        if self._refused:
            return  # the 413 is the answer; the app saw a disconnect
        if message["type"] == "http.response.start":
            self._response_started = True
        await self._send(message)


def _content_length(scope: Scope) -> int | None:
    """The declared body length, 0 when absent, None when it is not a plain decimal integer."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            if _DECIMAL.fullmatch(text) is None:  # str.isdigit() admits "²", int() does not
                return None
            return int(text)
    return 0


async def refuse(
    send: Send,
    status: int,
    code: str,
    detail: str,
    extra_headers: Mapping[str, str] | None = None,
) -> None:
    """Answer a request with a problem+json error and close the connection."""
    body = json.dumps(problem_document(status, code, detail)).encode()
    headers = [
        (b"content-type", PROBLEM.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    headers += [(name.encode(), value.encode()) for name, value in (extra_headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def json_depth_exceeds(text: str, depth_max: int) -> bool:
    """Whether JSON ``text`` nests arrays and objects deeper than ``depth_max``.

    A cheap scan before parsing: brackets inside strings are skipped, so a
    string value cannot trip it. Malformed text is left for the parser.
    """
    depth = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            if depth > depth_max:
                return True
        elif character in "]}":
            depth -= 1
    return False
