"""Permissioned reads: who may see what, on REST, WebSocket and gRPC, and the SDK unchanged.

A cluster whose genesis says ``"reads": "permissioned"``: every request but
the health check is signed; an account is visible to its owner and to the
auditor only; public market data names no participant.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bftx import access, crypto, limits
from bftx.access import AccessPolicy
from bftx.api.access import AccessError, Authenticator, Identity, RateLimiter, ReplayMemory
from bftx.api.grpc import bftx_pb2 as pb
from bftx.api.grpc import bftx_pb2_grpc
from bftx.client import Client
from bftx.client.signing import RequestPolicy, grpc_metadata, websocket_headers
from bftx.crypto import KeyPair
from tests.api.support import LiveCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("permissioned") / "testnet", permissioned_reads=True)
    try:
        live.start()
        yield live
    finally:
        live.close()


def signed(cluster: LiveCluster, key: KeyPair) -> httpx.Client:
    return httpx.Client(base_url=cluster.api_url(), auth=RequestPolicy(key), timeout=5)


def test_unsigned_requests_are_refused_but_health_answers(cluster: LiveCluster) -> None:
    response = httpx.get(f"{cluster.api_url()}/v1/markets")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert httpx.get(f"{cluster.api_url()}/v1/health").status_code == 200


def test_a_participant_sees_its_account_and_market_data_but_not_anothers_account(
    cluster: LiveCluster,
) -> None:
    mine, theirs = cluster.fresh_traders(2)
    with signed(cluster, mine) as http:
        assert http.get(f"/v1/accounts/{mine.address.hex()}").status_code == 200
        assert http.get("/v1/markets/BTC-USD/book").status_code == 200
        assert http.get("/v1/blocks/latest").status_code in (200, 404)
        for suffix in ("", "/orders", "/trades?market=BTC-USD", "/orders/1"):
            response = http.get(f"/v1/accounts/{theirs.address.hex()}{suffix}")
            assert response.status_code == 403, suffix
            assert response.json()["code"] == "forbidden"


def test_the_auditor_sees_every_account(cluster: LiveCluster) -> None:
    (someone,) = cluster.fresh_traders(1)
    with signed(cluster, cluster.accounts["auditor"]) as http:
        response = http.get(f"/v1/accounts/{someone.address.hex()}")
        assert response.status_code == 200
        assert response.json()["registered"] is True


def test_a_key_that_is_no_participant_is_forbidden(cluster: LiveCluster) -> None:
    with signed(cluster, KeyPair.generate()) as http:
        response = http.get("/v1/markets")
    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def sign_headers(
    key: KeyPair, cluster: LiveCluster, path: str, timestamp_ms: int
) -> dict[str, str]:
    authority = cluster.api_url().removeprefix("http://")
    return access.sign_request(key, "GET", authority, path, timestamp_ms, b"", os.urandom(16))


def test_a_replayed_signature_is_refused(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    path = f"/v1/accounts/{key.address.hex()}"
    headers = sign_headers(key, cluster, path, int(time.time() * 1000))
    first = httpx.get(cluster.api_url() + path, headers=headers)
    again = httpx.get(cluster.api_url() + path, headers=headers)
    assert first.status_code == 200
    assert (again.status_code, again.json()["code"]) == (401, "replayed")


def test_a_timestamp_of_unicode_digits_is_unauthenticated_not_a_500(cluster: LiveCluster) -> None:
    headers = {
        access.HEADER_KEY.encode(): b"0" * 64,
        access.HEADER_TIMESTAMP.encode(): b"\xb2",  # "²": str.isdigit() says yes, int() no
        access.HEADER_NONCE.encode(): b"a" * 32,
        access.HEADER_SIGNATURE.encode(): b"0" * 128,
    }
    for path in ("/v1/health", "/v1/markets"):
        response = httpx.get(cluster.api_url() + path, headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "unauthenticated")


def test_a_signature_over_another_request_is_refused(cluster: LiveCluster) -> None:
    mine, theirs = cluster.fresh_traders(2)
    headers = sign_headers(
        mine, cluster, f"/v1/accounts/{mine.address.hex()}", int(time.time() * 1000)
    )
    response = httpx.get(f"{cluster.api_url()}/v1/accounts/{theirs.address.hex()}", headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "bad_signature")


def test_a_stale_signature_is_refused(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    path = "/v1/markets"
    old = int(time.time() * 1000) - limits.api_signature_skew_ms_max - 5_000
    response = httpx.get(cluster.api_url() + path, headers=sign_headers(key, cluster, path, old))
    assert (response.status_code, response.json()["code"]) == (401, "stale_signature")


def test_a_tampered_body_is_refused(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    authority = cluster.api_url().removeprefix("http://")
    body = json.dumps({"txs": []}).encode()
    headers = access.sign_request(
        key, "POST", authority, "/v1/txs/batch", int(time.time() * 1000), body, os.urandom(16)
    )
    response = httpx.post(
        f"{cluster.api_url()}/v1/txs/batch",
        content=body.replace(b"[]", b"[ ]"),
        headers={**headers, "content-type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (401, "bad_signature")


def test_the_sdk_trades_and_reads_unchanged_from_the_users_side(cluster: LiveCluster) -> None:
    seller, buyer = cluster.fresh_traders(2)
    with (
        Client(cluster.api_url(), key=seller) as alice,
        Client(cluster.api_url(), key=buyer) as bob,
    ):
        alice.create_order("BTC/USD", "limit", "sell", "0.01", "45000")
        filled = bob.create_order("BTC/USD", "limit", "buy", "0.01", "45000")
        assert filled["status"] == "closed"
        assert bob.fetch_balance()["BTC"]["total"] is not None
        assert bob.fetch_my_trades("BTC/USD")
    with signed(cluster, buyer) as http:
        public = http.get("/v1/markets/BTC-USD/trades").json()
        assert public and all(trade["maker"] is None and trade["taker"] is None for trade in public)
        tx = http.get(f"/v1/txs/{filled['info']['tx_hash']}").json()
        assert tx["events"], "the sender sees what its own tx did"
    with signed(cluster, seller) as http:
        tx = http.get(f"/v1/txs/{filled['info']['tx_hash']}").json()
        assert tx["status"] == "committed" and tx["events"] == [], "not the seller's tx"


def test_an_sdk_client_without_a_key_is_told_to_sign(cluster: LiveCluster) -> None:
    with Client(cluster.api_url()) as anonymous, pytest.raises(Exception) as raised:
        anonymous.fetch_order_book("BTC/USD")
    assert "permissioned" in str(raised.value)


# --- WebSocket --------------------------------------------------------------------------


def test_an_unsigned_websocket_upgrade_is_refused(cluster: LiveCluster) -> None:
    with pytest.raises(InvalidStatus) as raised:
        connect(cluster.ws_url(), open_timeout=5)
    assert raised.value.response.status_code == 403


def ws_subscribe_account(cluster: LiveCluster, key: KeyPair, owner: bytes) -> dict[str, Any]:
    url = cluster.ws_url()
    with connect(url, open_timeout=5, additional_headers=websocket_headers(key, url)) as ws:
        ws.send(json.dumps({"op": "subscribe", "channel": "account", "address": owner.hex()}))
        answer: dict[str, Any] = json.loads(ws.recv(timeout=5))
        return answer


def test_websocket_account_events_are_for_the_owner_and_the_auditor(cluster: LiveCluster) -> None:
    mine, theirs = cluster.fresh_traders(2)
    assert ws_subscribe_account(cluster, mine, mine.address)["type"] == "subscribed"
    refused = ws_subscribe_account(cluster, mine, theirs.address)
    assert (refused["type"], refused["code"]) == ("error", "forbidden")
    auditor = cluster.accounts["auditor"]
    assert ws_subscribe_account(cluster, auditor, theirs.address)["type"] == "subscribed"


# --- gRPC --------------------------------------------------------------------------------


@pytest.fixture
def stub(cluster: LiveCluster) -> Iterator[Any]:
    with grpc.insecure_channel(cluster.grpc_target()) as channel:
        yield bftx_pb2_grpc.BftxStub(channel)


def get_account(stub: Any, key: KeyPair | None, owner: bytes) -> Any:
    metadata = grpc_metadata(key, "/bftx.v1.Bftx/GetAccount") if key else None
    return stub.GetAccount(pb.GetAccountRequest(address=owner), metadata=metadata, timeout=5)


def test_grpc_calls_are_authenticated_and_accounts_gated(cluster: LiveCluster, stub: Any) -> None:
    mine, theirs = cluster.fresh_traders(2)
    assert get_account(stub, mine, mine.address).registered
    assert get_account(stub, cluster.accounts["auditor"], theirs.address).registered
    for key, status in (
        (None, grpc.StatusCode.UNAUTHENTICATED),
        (mine, grpc.StatusCode.PERMISSION_DENIED),
    ):
        with pytest.raises(grpc.RpcError) as raised:
            get_account(stub, key, theirs.address)
        assert raised.value.code() == status


def test_a_grpc_signature_for_another_method_is_refused(cluster: LiveCluster, stub: Any) -> None:
    (key,) = cluster.fresh_traders(1)
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetStatus(
            pb.GetStatusRequest(), metadata=grpc_metadata(key, "/bftx.v1.Bftx/GetTx"), timeout=5
        )
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (raised.value.details() or "").startswith("bad_signature: ")


# --- the rules alone ---------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limiter_refuses_past_the_burst_and_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=10, burst=3, clock=clock)
    for _ in range(3):
        limiter.take(b"a")
    with pytest.raises(AccessError) as raised:
        limiter.take(b"a")
    assert (raised.value.status, raised.value.code, raised.value.retry_after_s) == (
        429,
        "rate_limited",
        1,
    )
    limiter.take(b"b")  # buckets are per identity
    clock.now += 0.1
    limiter.take(b"a")


def test_replay_memory_forgets_signatures_once_they_are_stale_anyway() -> None:
    clock = FakeClock()
    key = KeyPair.generate()
    authenticator = Authenticator(AccessPolicy(), frozenset(), lambda _a: True, clock=clock)
    headers = access.sign_request(
        key, "GET", "h", "/v1/markets", int(clock.now * 1000), b"", os.urandom(16)
    )
    assert authenticator.authenticate(headers, "GET", "h", "/v1/markets", b"") is not None
    with pytest.raises(AccessError, match="already used"):
        authenticator.authenticate(headers, "GET", "h", "/v1/markets", b"")
    clock.now += 2 * limits.api_signature_skew_ms_max / 1000 + 1
    with pytest.raises(AccessError) as raised:  # now refused as stale, not remembered
        authenticator.authenticate(headers, "GET", "h", "/v1/markets", b"")
    assert raised.value.code == "stale_signature"
    assert crypto.address_of(key.public_key) == key.address


def test_an_open_network_still_checks_a_signature_it_is_given() -> None:
    authenticator = Authenticator(AccessPolicy(), frozenset(), lambda _a: False)
    headers = access.sign_request(
        KeyPair.generate(), "GET", "h", "/v1/markets", int(time.time() * 1000), b"", os.urandom(16)
    )
    assert authenticator.admit({}, "GET", "h", "/v1/markets", b"") is None
    with pytest.raises(AccessError, match="does not match"):
        authenticator.admit(headers, "GET", "h", "/v1/book", b"")


def test_the_access_policy_round_trips_through_genesis() -> None:
    auditor = KeyPair.generate().address
    policy = AccessPolicy(permissioned=True, auditors=frozenset({auditor}))
    document = policy.to_document()
    assert AccessPolicy.from_document(document) == policy
    assert AccessPolicy().to_document() is None
    with pytest.raises(Exception, match="reads"):
        AccessPolicy.from_document({"reads": "secret"})


# --- the replay memory under a flood of identities -----------------------------------------


def signed_get(key: KeyPair, clock: FakeClock, offset_ms: int = 0) -> dict[str, str]:
    timestamp_ms = int(clock.now * 1000) + offset_ms
    return access.sign_request(key, "GET", "h", "/v1/markets", timestamp_ms, b"", os.urandom(16))


def small_authenticator(
    clock: FakeClock, participants: set[bytes], permissioned: bool = False
) -> tuple[Authenticator, ReplayMemory, ReplayMemory]:
    """An authenticator with replay memories small enough to flood in a test."""
    mine = ReplayMemory(signatures_max=64, identities_max=8, per_identity_max=16)
    others = ReplayMemory(signatures_max=64, identities_max=8, per_identity_max=16)
    authenticator = Authenticator(
        AccessPolicy(permissioned=permissioned),
        frozenset(),
        lambda address: address in participants,
        limiter=RateLimiter(clock=clock),
        clock=clock,
        participants=mine,
        others=others,
    )
    return authenticator, mine, others


def admit(authenticator: Authenticator, headers: dict[str, str]) -> Identity | None:
    return authenticator.admit(headers, "GET", "h", "/v1/markets", b"")


def flood(authenticator: Authenticator, keys: list[KeyPair], each: int, clock: FakeClock) -> int:
    """Each key signs ``each`` fresh requests, one a millisecond; how many were refused."""
    refused = 0
    for key in keys:
        for _ in range(each):
            clock.now += 0.001
            try:
                admit(authenticator, signed_get(key, clock))
            except AccessError as error:
                assert (error.status, error.code) == (429, "rate_limited")
                refused += 1
    return refused


def test_throwaway_keys_flooding_an_open_network_cannot_refuse_a_participant() -> None:
    clock = FakeClock()
    participant = KeyPair.generate()
    authenticator, mine, others = small_authenticator(clock, {participant.address})
    earlier = signed_get(participant, clock)
    assert admit(authenticator, earlier) is not None
    refused = flood(authenticator, [KeyPair.generate() for _ in range(40)], 20, clock)
    assert refused == 0  # past their memory's identities, keys are served as unsigned
    assert len(others) <= 64 and others.identities == 8  # and used up their own memory only
    fresh = signed_get(participant, clock)
    identity = admit(authenticator, fresh)
    assert identity is not None and access.ROLE_PARTICIPANT in identity.roles
    for replay in (earlier, fresh):
        with pytest.raises(AccessError) as raised:
            admit(authenticator, replay)
        assert (raised.value.status, raised.value.code) == (401, "replayed")
    assert len(mine) == 2


def test_registered_identities_flooding_turn_the_memory_over_and_replays_stay_refused() -> None:
    clock = FakeClock()
    victim, *flooders = [KeyPair.generate() for _ in range(7)]
    authenticator, mine, _others = small_authenticator(
        clock, {key.address for key in (victim, *flooders)}
    )
    first = signed_get(victim, clock, offset_ms=-1)
    admit(authenticator, first)
    assert flood(authenticator, flooders, 40, clock) == 0  # nobody is refused
    assert len(mine) == 64  # the victim's first signature was forgotten early ...
    with pytest.raises(AccessError) as raised:
        admit(authenticator, first)  # ... and is refused all the same (below its floor)
    assert (raised.value.status, raised.value.code) == (429, "rate_limited")
    fresh = signed_get(victim, clock)
    assert admit(authenticator, fresh) is not None
    with pytest.raises(AccessError, match="already used"):
        admit(authenticator, fresh)


def test_one_identity_only_uses_up_its_own_share_of_the_replay_memory() -> None:
    clock = FakeClock()
    flooder, other = KeyPair.generate(), KeyPair.generate()
    authenticator, mine, _others = small_authenticator(clock, {flooder.address, other.address})
    kept = signed_get(other, clock)
    admit(authenticator, kept)
    first = signed_get(flooder, clock, offset_ms=-1)
    admit(authenticator, first)
    assert flood(authenticator, [flooder], 100, clock) == 0
    assert len(mine) == 17  # 16 of the flooder's and the other's one
    with pytest.raises(AccessError, match="already used"):
        admit(authenticator, kept)
    with pytest.raises(AccessError, match="sign it again"):
        admit(authenticator, first)


def test_a_non_participant_is_refused_before_anything_of_it_is_remembered() -> None:
    clock = FakeClock()
    authenticator, mine, others = small_authenticator(clock, set(), permissioned=True)
    for _ in range(3):
        with pytest.raises(AccessError) as raised:
            admit(authenticator, signed_get(KeyPair.generate(), clock))
        assert (raised.value.status, raised.value.code) == (403, "forbidden")
    assert len(mine) == len(others) == 0 and mine.identities == others.identities == 0


def test_a_newcomer_past_the_memory_of_other_keys_is_served_as_unsigned() -> None:
    clock = FakeClock()
    authenticator, mine, others = small_authenticator(clock, set())
    assert flood(authenticator, [KeyPair.generate() for _ in range(8)], 1, clock) == 0
    assert others.identities == 8
    newcomer = signed_get(KeyPair.generate(), clock)
    assert admit(authenticator, newcomer) is None  # open reads: nothing a signature adds
    assert others.identities == 8 and len(others) == 8 and len(mine) == 0


def test_replay_memory_frees_identities_once_their_signatures_are_stale() -> None:
    clock = FakeClock()
    flooders, newcomer = [KeyPair.generate() for _ in range(8)], KeyPair.generate()
    registered = {key.address for key in (*flooders, newcomer)}
    authenticator, mine, _others = small_authenticator(clock, registered)
    flood(authenticator, flooders, 1, clock)
    with pytest.raises(AccessError) as raised:  # no live identity is forgotten
        admit(authenticator, signed_get(newcomer, clock))
    assert (raised.value.code, raised.value.retry_after_s) == ("rate_limited", 1)
    clock.now += limits.api_signature_skew_ms_max / 1000 + 0.001
    assert admit(authenticator, signed_get(newcomer, clock)) is not None
    assert len(mine) == mine.identities == 1
