"""Authentication, roles and per-identity rate limits for the client APIs.

Owns checking request signatures (`bftx.access` defines them), refusing
replays, deciding who may see which account, and the token buckets behind
HTTP 429. REST and WebSocket pass through `AccessControl`, an ASGI middleware
that runs before any route; gRPC calls `Authenticator` from its guard.

Must never: let a request through whose signature it did not verify when one
is required, show one participant another's account, or hold an unbounded
amount of memory per client (replay memory and buckets are bounded).
"""

from __future__ import annotations

import math
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bftx import access, crypto, limits
from bftx.access import AccessPolicy
from bftx.api.guard import App, Message, Receive, Scope, Send, refuse
from bftx.node.runtime import Node

Clock = Callable[[], float]  # seconds

# Paths anyone may read in every mode (liveness, the API's own documentation).
_PUBLIC_PATHS = re.compile(r"/v1/health|/docs.*|/openapi\.json|/redoc.*")
_HEX = re.compile(r"[0-9a-f]*")
_ACCOUNT_PATH = re.compile(r"/v1/accounts/(?:0x)?([0-9a-fA-F]{40})(?:/.*)?")


class AccessError(Exception):
    def __init__(self, status: int, code: str, detail: str, retry_after_s: int = 0) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed a request: an address and its roles."""

    address: bytes
    roles: frozenset[str]

    @property
    def is_auditor(self) -> bool:
        return access.ROLE_AUDITOR in self.roles

    def may_read_account(self, owner: bytes) -> bool:
        return owner == self.address or self.is_auditor


class Authenticator:
    """Checks request signatures against the clock and a bounded memory of recent ones."""

    def __init__(
        self,
        policy: AccessPolicy,
        validators: frozenset[bytes],
        is_registered: Callable[[bytes], bool],
        limiter: RateLimiter | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.policy = policy
        self._limiter = limiter or RateLimiter()
        self._validators = validators
        self._is_registered = is_registered
        self._clock = clock
        self._seen: OrderedDict[bytes, float] = OrderedDict()  # signature -> when it was seen

    def authenticate(
        self,
        headers: Mapping[str, str],
        method: str,
        authority: str,
        target: str,
        body: bytes,
    ) -> Identity | None:
        """The signer of a request, None for an unsigned one; AccessError when it is wrong."""
        checked = self._verify(headers, method, authority, target, body)
        if checked is None:
            return None
        identity, signature = checked
        self._remember(signature, self._clock())
        return identity

    def _verify(
        self,
        headers: Mapping[str, str],
        method: str,
        authority: str,
        target: str,
        body: bytes,
    ) -> tuple[Identity, bytes] | None:
        names = (
            access.HEADER_KEY,
            access.HEADER_TIMESTAMP,
            access.HEADER_NONCE,
            access.HEADER_SIGNATURE,
        )
        key_text, timestamp_text, nonce, signature_text = (headers.get(name) for name in names)
        if key_text is None and timestamp_text is None and signature_text is None:
            return None
        if key_text is None or timestamp_text is None or nonce is None or signature_text is None:
            raise AccessError(
                401, "unauthenticated", f"a signed request carries {', '.join(names)}"
            )
        if len(nonce) != access.NONCE_HEX_CHARS or _HEX.fullmatch(nonce) is None:
            raise AccessError(
                401, "unauthenticated", f"{access.HEADER_NONCE} is 16 random bytes in hex"
            )
        public_key = _hex(key_text, crypto.PUBLIC_KEY_BYTES, access.HEADER_KEY)
        signature = _hex(signature_text, crypto.SIGNATURE_BYTES, access.HEADER_SIGNATURE)
        if not timestamp_text.isdigit() or len(timestamp_text) > 16:
            raise AccessError(
                401, "unauthenticated", f"{access.HEADER_TIMESTAMP} is milliseconds since the epoch"
            )
        now_s = self._clock()
        skew_ms = abs(int(timestamp_text) - now_s * 1000)
        if skew_ms > limits.api_signature_skew_ms_max:
            raise AccessError(
                401,
                "stale_signature",
                f"the request was signed {skew_ms / 1000:.0f} s away from this node's clock "
                f"(at most {limits.api_signature_skew_ms_max // 1000} s): check the clock and sign it again",
            )
        payload = access.compute_signing_payload(
            method, authority, target, int(timestamp_text), nonce, body
        )
        if not crypto.verify(public_key, payload, signature):
            raise AccessError(
                401,
                "bad_signature",
                "the signature does not match the request (method, host, path and query, "
                "timestamp and body are signed)",
            )
        return self.identity_of(crypto.address_of(public_key)), signature

    def admit(
        self,
        headers: Mapping[str, str],
        method: str,
        authority: str,
        target: str,
        body: bytes,
        public: bool = False,
    ) -> Identity | None:
        """Authenticate and rate-limit a call; under permissioned reads, require a participant.

        ``public`` calls (health, documentation) need no identity in any mode.
        """
        checked = self._verify(headers, method, authority, target, body)
        identity = None
        if checked is not None:
            identity, signature = checked
            self._limiter.take(identity.address)  # a refused request's signature stays unused
            self._remember(signature, self._clock())
        if not self.policy.permissioned or public:
            return identity
        if identity is None:
            raise AccessError(
                401,
                "unauthenticated",
                "this network's API is permissioned: sign requests with your account key "
                "(SDK: Client(url, key=...); CLI: --key, or --identity FILE / $BFTX_KEY)",
            )
        if access.ROLE_PARTICIPANT not in identity.roles:
            raise AccessError(
                403, "forbidden", f"{identity.address.hex()} is not a participant of this network"
            )
        return identity

    def identity_of(self, address: bytes) -> Identity:
        roles = set()
        if address in self.policy.auditors:
            roles.add(access.ROLE_AUDITOR)
        if address in self.policy.operators or address in self._validators:
            roles.add(access.ROLE_OPERATOR)
        if roles or self._is_registered(address):
            roles.add(access.ROLE_PARTICIPANT)
        return Identity(address, frozenset(roles))

    def _remember(self, signature: bytes, now_s: float) -> None:
        forget_before = now_s - 2 * limits.api_signature_skew_ms_max / 1000
        while self._seen and next(iter(self._seen.values())) < forget_before:
            self._seen.popitem(last=False)
        if signature in self._seen:
            raise AccessError(
                401, "replayed", "this signature was already used: sign each request afresh"
            )
        if len(self._seen) >= limits.api_signatures_remembered_max:
            raise AccessError(
                429, "rate_limited", "too many signed requests at once; retry shortly", 1
            )
        self._seen[signature] = now_s


class RateLimiter:
    """A token bucket per identity: ``rate`` requests a second, bursts of ``burst``."""

    def __init__(
        self,
        rate_per_s: float = limits.api_requests_per_s,
        burst: int = limits.api_request_burst,
        clock: Clock = time.monotonic,
    ) -> None:
        self._rate = rate_per_s
        self._burst = burst
        self._clock = clock
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()  # tokens, when

    def take(self, who: bytes) -> None:
        """Spend one token of ``who``'s bucket; AccessError 429 with Retry-After when empty."""
        now = self._clock()
        tokens, then = self._buckets.pop(who, (float(self._burst), now))
        tokens = min(float(self._burst), tokens + (now - then) * self._rate)
        if tokens < 1:
            self._buckets[who] = (tokens, now)
            wait_s = max(1, math.ceil((1 - tokens) / self._rate))
            raise AccessError(
                429,
                "rate_limited",
                f"more than {self._rate:.0f} requests a second from this identity; "
                f"retry after {wait_s} s",
                wait_s,
            )
        self._buckets[who] = (tokens - 1, now)
        while len(self._buckets) > limits.api_rate_buckets_max:
            self._buckets.popitem(last=False)  # the least recently seen identity starts afresh


class AccessControl:
    """ASGI middleware: authenticate, rate-limit and gate account paths before any route.

    The identity (or None) is left in ``scope["bftx.identity"]`` for routes
    that filter what they show (`identity_of_scope`).
    """

    def __init__(self, app: App, authenticator: Callable[[], Authenticator]) -> None:
        self._app = app
        self._authenticator_of = authenticator  # looked up per request: built with the node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", ())
        }
        body = b""
        if scope["type"] == "http" and access.HEADER_SIGNATURE in headers:
            body, receive = await _read_body(receive)  # BodyLimit, outside, bounds it
        try:
            scope["bftx.identity"] = self._check(scope, headers, body)
        except AccessError as error:
            if scope["type"] == "websocket":
                # Closing before accepting makes the server answer the upgrade with 403.
                await send({"type": "websocket.close", "code": 1008, "reason": error.detail})
                return
            extra = {"retry-after": str(error.retry_after_s)} if error.retry_after_s else {}
            await refuse(send, error.status, error.code, error.detail, extra)
            return
        await self._app(scope, receive, send)

    def _check(self, scope: Scope, headers: Mapping[str, str], body: bytes) -> Identity | None:
        authenticator = self._authenticator_of()
        path: str = scope["path"]
        method = "GET" if scope["type"] == "websocket" else scope["method"]
        target = scope.get("raw_path", path.encode()).decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        public = _PUBLIC_PATHS.fullmatch(path) is not None
        identity = authenticator.admit(
            headers, method, headers.get("host", ""), target, body, public
        )
        account = _ACCOUNT_PATH.fullmatch(path)
        if identity is None or account is None or not authenticator.policy.permissioned:
            return identity
        if not identity.may_read_account(bytes.fromhex(account[1])):
            raise AccessError(
                403, "forbidden", "an account is visible to its owner and to auditors only"
            )
        return identity


_authenticators: weakref.WeakKeyDictionary[Node, Authenticator] = weakref.WeakKeyDictionary()


def authenticator_for(node: Node) -> Authenticator:
    """The node's one authenticator: one replay memory and one set of rate buckets for
    REST, WebSocket and gRPC."""
    found = _authenticators.get(node)
    if found is None:
        found = _authenticators[node] = Authenticator(
            node.genesis.access,
            frozenset(validator.address for validator in node.genesis.validators),
            lambda address: node.application.exchange.is_registered(address),
        )
    return found


def identity_of_scope(scope: Scope) -> Identity | None:
    identity = scope.get("bftx.identity")
    assert identity is None or isinstance(identity, Identity)
    return identity


def may_see_account(scope: Scope, policy: AccessPolicy, owner: bytes) -> bool:
    """Whether the request's identity may see ``owner``'s private data under ``policy``."""
    if not policy.permissioned:
        return True
    identity = identity_of_scope(scope)
    return identity is not None and identity.may_read_account(owner)


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a receive that hands it to the app again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


def _hex(text: str, size: int, header: str) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != size:
        raise AccessError(401, "unauthenticated", f"{header} is {size} bytes in hex")
    return value
