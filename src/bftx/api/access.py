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
_PUBLIC_PATHS = re.compile(r"/v1/health|/v1/ready|/docs.*|/openapi\.json|/redoc.*")
_HEX = re.compile(r"[0-9a-f]*")
_TIMESTAMP = re.compile(r"[0-9]{1,16}")  # ASCII digits only (str.isdigit admits "²")
_ACCOUNT_PATH = re.compile(r"/v1/accounts/(?:0x)?([0-9a-fA-F]{40})(?:/.*)?")

# Replay memory (`ReplayMemory`): participants' signatures, with as many identities as the
# rate limiter keeps buckets for; other keys' (open reads: anybody's), a smaller share.
REPLAY_PARTICIPANTS_MAX = limits.api_rate_buckets_max
REPLAY_OTHER_SIGNATURES_MAX = 65_536
REPLAY_OTHERS_MAX = 16_384
# Signatures one identity keeps individually: 8 s of requests at its full rate; older ones
# are covered by its floor (a request signed before its 4,096 newest ones is refused).
REPLAY_IDENTITY_SIGNATURES_MAX = 4_096


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
    """Checks request signatures against the clock and a bounded memory of recent ones.

    Replays are refused with two `ReplayMemory`s: one for participants
    (registered accounts, auditors, operators) and one for every other key,
    which only open reads (or the public paths) serve signed. Keys cost
    nothing, so the second one can be filled by anybody; a participant's
    signatures never share memory with throwaway keys. Under permissioned reads
    a key that is no participant is refused (403) before anything of it is
    remembered or counted.
    """

    def __init__(
        self,
        policy: AccessPolicy,
        validators: frozenset[bytes],
        is_registered: Callable[[bytes], bool],
        limiter: RateLimiter | None = None,
        clock: Clock = time.time,
        participants: ReplayMemory | None = None,
        others: ReplayMemory | None = None,
    ) -> None:
        self.policy = policy
        self._limiter = limiter or RateLimiter()
        self._validators = validators
        self._is_registered = is_registered
        self._clock = clock
        if participants is None:
            participants = ReplayMemory(
                limits.api_signatures_remembered_max, REPLAY_PARTICIPANTS_MAX
            )
        if others is None:
            others = ReplayMemory(REPLAY_OTHER_SIGNATURES_MAX, REPLAY_OTHERS_MAX)
        self._participants, self._others = participants, others

    def authenticate(
        self,
        headers: Mapping[str, str],
        method: str,
        authority: str,
        target: str,
        body: bytes,
    ) -> Identity | None:
        """The signer of a request, None for an unsigned one; AccessError when it is wrong
        or replayed. No role is required and no rate limit applies (`admit` does both)."""
        signed = self._verify(headers, method, authority, target, body)
        if signed is None:
            return None
        now_ms = self._now_ms()
        self._check_replay(signed)
        if not self._memory_of(signed.identity).has_room(signed.identity.address, now_ms):
            raise _memory_full()
        self._memory_of(signed.identity).record(
            signed.identity.address, signed.signature, signed.timestamp_ms, now_ms
        )
        return signed.identity

    def _verify(
        self,
        headers: Mapping[str, str],
        method: str,
        authority: str,
        target: str,
        body: bytes,
    ) -> _Signed | None:
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
        # ASCII digits only: str.isdigit() also admits "²" or "٣", which int() refuses or reads.
        if _TIMESTAMP.fullmatch(timestamp_text) is None:
            raise AccessError(
                401,
                "unauthenticated",
                f"{access.HEADER_TIMESTAMP} is milliseconds since the epoch (decimal digits)",
            )
        timestamp_ms = int(timestamp_text)
        skew_ms = abs(timestamp_ms - self._now_ms())
        if skew_ms > limits.api_signature_skew_ms_max:
            raise AccessError(
                401,
                "stale_signature",
                f"the request was signed {skew_ms / 1000:.0f} s away from this node's clock "
                f"(at most {limits.api_signature_skew_ms_max // 1000} s): check the clock and sign it again",
            )
        payload = access.compute_signing_payload(
            method, authority, target, timestamp_ms, nonce, body
        )
        if not crypto.verify(public_key, payload, signature):
            raise AccessError(
                401,
                "bad_signature",
                "the signature does not match the request (method, host, path and query, "
                "timestamp and body are signed)",
            )
        return _Signed(self.identity_of(crypto.address_of(public_key)), signature, timestamp_ms)

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
        The order matters: a key that may not call is refused before anything of
        it is remembered; a replay is refused before it spends its signer's
        tokens; a request refused for its rate keeps its signature unused.
        """
        signed = self._verify(headers, method, authority, target, body)
        identity = None if signed is None else signed.identity
        if self.policy.permissioned and not public:
            if identity is None:
                raise AccessError(
                    401,
                    "unauthenticated",
                    "this network's API is permissioned: sign requests with your account key "
                    "(SDK: Client(url, key=...); CLI: --key, or --identity FILE / $BFTX_KEY)",
                )
            if access.ROLE_PARTICIPANT not in identity.roles:
                raise AccessError(
                    403,
                    "forbidden",
                    f"{identity.address.hex()} is not a participant of this network",
                )
        if signed is not None:
            now_ms = self._now_ms()
            self._check_replay(signed)
            memory = self._memory_of(signed.identity)
            if not memory.has_room(signed.identity.address, now_ms):
                if memory is self._others:
                    # Reaching here, a non-participant needs no identity (open reads, or a
                    # public path): its signature grants nothing an unsigned request lacks,
                    # so it is served as one, and a flood of keys refuses no newcomer.
                    return None
                raise _memory_full()
            self._limiter.take(signed.identity.address)
            self._memory_of(signed.identity).record(
                signed.identity.address, signed.signature, signed.timestamp_ms, now_ms
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

    def _memory_of(self, identity: Identity) -> ReplayMemory:
        if access.ROLE_PARTICIPANT in identity.roles:
            return self._participants
        return self._others

    def _check_replay(self, signed: _Signed) -> None:
        """Refuse a replay; both memories are asked, since a key that registers moves from
        one to the other while the signatures it made before may still be replayed."""
        for memory in (self._participants, self._others):
            memory.check(signed.identity.address, signed.signature, signed.timestamp_ms)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


def _memory_full() -> AccessError:
    return AccessError(
        429,
        "rate_limited",
        "too many identities signed requests within the clock window; retry shortly",
        1,
    )


@dataclass(frozen=True, slots=True)
class _Signed:
    identity: Identity
    signature: bytes
    timestamp_ms: int


class _Remembered:
    """One identity's part of a `ReplayMemory`."""

    __slots__ = ("floor_ms", "newest_ms", "signatures")

    def __init__(self) -> None:
        self.signatures: OrderedDict[bytes, int] = OrderedDict()  # -> timestamp_ms, by arrival
        self.floor_ms = -1  # its requests signed at or before this are refused
        self.newest_ms = -1  # the latest timestamp it signed (its floor included)


class ReplayMemory:
    """The signatures of recent requests, to refuse a replay, in bounded memory.

    A signature must be remembered exactly as long as a replay of it would
    otherwise pass: until its own timestamp is more than the clock window
    (`limits.api_signature_skew_ms_max`) in the past. After that the request is
    refused as ``stale_signature`` anyway, so it is dropped. Forgetting it any
    earlier would let a replay through, so when memory runs short a signature
    is forgotten early only together with raising its signer's *floor* to its
    timestamp: every later request of that identity signed at or before the
    floor is refused (429 ``rate_limited``: the client signs it again, with a
    newer timestamp). A replay of a forgotten signature is therefore still
    refused, and the price is paid by the identity whose signatures were
    forgotten, only for requests it signed earlier than ones the node already
    saw: a client signing with its clock gets past its floor with every new
    request.

    Bounds (all memory is bounded):

    - each identity keeps at most ``per_identity_max`` signatures; past that
      its own oldest is forgotten (its floor rises), so one identity can only
      use up its own share;
    - all identities together keep at most ``signatures_max``; past that the
      oldest signature of the whole memory is forgotten (its signer's floor
      rises): a flood of fresh identities turns the memory over but refuses
      nobody else, whose new requests are newer than their floors;
    - at most ``identities_max`` identities with a signature or a floor still
      within the window are kept; `has_room` says no to a new identity beyond
      that until one goes stale (forgetting a live identity's floor would
      allow replays). `Authenticator` keeps participants and other keys in
      separate memories: it serves another key without room as unsigned
      (it needs no identity), and refuses a participant without room (429),
      which only as many registered accounts, each signing within one clock
      window, could cause.
    """

    def __init__(
        self,
        signatures_max: int,
        identities_max: int,
        per_identity_max: int = REPLAY_IDENTITY_SIGNATURES_MAX,
        skew_ms: int = limits.api_signature_skew_ms_max,
    ) -> None:
        assert 0 < per_identity_max <= signatures_max
        self._signatures_max = signatures_max
        self._identities_max = identities_max
        self._per_identity_max = per_identity_max
        self._skew_ms = skew_ms
        self._identities: OrderedDict[bytes, _Remembered] = OrderedDict()  # least recent first
        self._arrivals: OrderedDict[bytes, bytes] = (
            OrderedDict()
        )  # signature -> signer, oldest first

    def __len__(self) -> int:
        """Signatures remembered."""
        return len(self._arrivals)

    @property
    def identities(self) -> int:
        return len(self._identities)

    def check(self, address: bytes, signature: bytes, timestamp_ms: int) -> None:
        """AccessError if this signature, or any signed by ``address`` at or before its
        floor, is a possible replay."""
        remembered = self._identities.get(address)
        if remembered is None:
            return
        if signature in remembered.signatures:
            raise AccessError(
                401, "replayed", "this signature was already used: sign each request afresh"
            )
        if timestamp_ms <= remembered.floor_ms:
            raise AccessError(
                429,
                "rate_limited",
                "signed no later than requests of this identity that this node could not keep "
                "apart from replays; sign it again",
                1,
            )

    def has_room(self, address: bytes, now_ms: int) -> bool:
        """Whether a signature of ``address`` can be recorded: it is known, or an identity
        slot is free (no live identity is ever forgotten)."""
        if address in self._identities:
            return True
        self._forget_stale(now_ms)
        return len(self._identities) < self._identities_max

    def record(self, address: bytes, signature: bytes, timestamp_ms: int, now_ms: int) -> None:
        """Remember an accepted signature (after `check`, and `has_room` said yes)."""
        self._forget_stale(now_ms)
        remembered = self._identities.pop(address, None) or _Remembered()
        self._identities[address] = remembered  # now the most recently used
        remembered.signatures[signature] = timestamp_ms
        remembered.newest_ms = max(remembered.newest_ms, timestamp_ms)
        self._arrivals[signature] = address
        if len(remembered.signatures) > self._per_identity_max:
            self._forget_early(next(iter(remembered.signatures)), address)
        while len(self._arrivals) > self._signatures_max:
            self._forget_early(*next(iter(self._arrivals.items())))

    def _forget_early(self, signature: bytes, address: bytes) -> None:
        """Forget a signature that may still be replayed: its signer's floor covers it."""
        del self._arrivals[signature]
        remembered = self._identities[address]
        timestamp_ms = remembered.signatures.pop(signature)
        remembered.floor_ms = max(remembered.floor_ms, timestamp_ms)

    def _forget_stale(self, now_ms: int) -> None:
        """Drop what no replay could use any more: signatures, then identities, whose
        timestamps left the clock window. Oldest first, stopping at the first live one."""
        stale_before = now_ms - self._skew_ms
        while self._arrivals:
            signature, address = next(iter(self._arrivals.items()))
            remembered = self._identities[address]
            if remembered.signatures[signature] >= stale_before:
                break
            del self._arrivals[signature], remembered.signatures[signature]
        while self._identities:
            address, remembered = next(iter(self._identities.items()))
            if remembered.newest_ms >= stale_before:
                break
            for signature in remembered.signatures:
                del self._arrivals[signature]
            del self._identities[address]


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
