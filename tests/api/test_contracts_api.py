"""REST routes of contracts and proofs, and contract events on the WebSocket account channel,
against a live in-process cluster (tests/api/conftest.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from websockets.sync.client import connect

from bftx import crypto, limits
from bftx.client import Client
from tests.api.support import LiveCluster, wait_for
from tests.api.test_websocket import receive_until, subscribe

SECRET = bytes(range(7, 39))


def later_ms() -> int:
    return int(time.time() * 1000) + 600_000


def test_assets_list_symbols_and_decimals(cluster: LiveCluster) -> None:
    assets = cluster.http.get(f"{cluster.api_url()}/v1/assets").json()
    assert {"symbol": "BTC", "decimals": 8} in assets


def test_unknown_contracts_are_404_and_bad_ids_400(cluster: LiveCluster) -> None:
    base = cluster.api_url()
    for path in ("htlcs", "deals"):
        missing = cluster.http.get(f"{base}/v1/{path}/{'00' * 32}")
        assert missing.status_code == 404 and missing.json()["code"] == "unknown_contract"
        assert cluster.http.get(f"{base}/v1/{path}/xyz").status_code == 400


def test_proof_requests_say_what_is_wrong(cluster: LiveCluster) -> None:
    base = cluster.api_url()
    bad_key = cluster.http.get(f"{base}/v1/proofs", params={"key": "wallet:1"})
    assert bad_key.status_code == 400 and bad_key.json()["code"] == "invalid_request"
    wait_for(lambda: cluster.status()["height"] > limits.pipeline_depth_blocks, 10.0, "blocks")
    future = cluster.http.get(f"{base}/v1/proofs", params={"key": "counters", "height": 2**40})
    assert future.status_code == 404 and future.json()["code"] == "not_certified"
    old = cluster.http.get(f"{base}/v1/proofs", params={"key": "counters", "height": 0})
    assert old.status_code in (200, 404)  # kept only while the chain is young
    if old.status_code == 404:
        assert old.json()["code"] == "height_not_kept"


def test_a_height_no_longer_kept_names_the_heights_that_are(cluster: LiveCluster) -> None:
    oldest_needed = limits.proof_heights_max + limits.pipeline_depth_blocks + 2
    wait_for(lambda: cluster.status()["height"] > oldest_needed, 20.0, "blocks")
    old = cluster.http.get(
        f"{cluster.api_url()}/v1/proofs", params={"key": "counters", "height": 1}
    )
    assert (old.status_code, old.json()["code"]) == (404, "height_not_kept")
    detail = old.json()["detail"]
    assert f"the last {limits.proof_heights_max} heights" in detail
    low, high = (int(word) for word in detail.rsplit("(now ", 1)[1].rstrip(")").split(" to "))
    assert 1 < low <= high and high - low < limits.proof_heights_max


def test_light_block_carries_header_and_certificate(cluster: LiveCluster) -> None:
    wait_for(lambda: cluster.status()["height"] >= 1, 10.0, "a block")
    light = cluster.http.get(f"{cluster.api_url()}/v1/light-blocks/1").json()
    assert light["height"] == 1 and light["header"] and light["certificate"]
    assert light["state_height"] == 0
    missing = cluster.http.get(f"{cluster.api_url()}/v1/light-blocks/{2**40}")
    assert missing.status_code == 404


def test_htlc_events_reach_both_parties_account_channels(cluster: LiveCluster) -> None:
    sender, receiver = cluster.fresh_traders(2)
    with connect(cluster.ws_url(), open_timeout=5, close_timeout=2) as ws:
        subscribe(ws, channel="account", address=receiver.address.hex())
        with Client(cluster.api_url(), key=sender) as alice:
            locked = alice.htlc_lock(
                "BTC", "0.1", receiver.address, crypto.sha256(SECRET), later_ms()
            )
            alice.htlc_claim(locked["id"], SECRET)

        def has(kind: str) -> object:
            return lambda m: m["type"] == "account" and any(e["event"] == kind for e in m["events"])

        seen_lock = receive_until(ws, has("htlc_locked"))
        lock_event = next(e for e in seen_lock["events"] if e["event"] == "htlc_locked")
        assert (lock_event["id"], lock_event["amount"]) == (locked["id"], "0.10000000")
        seen_claim = receive_until(ws, has("htlc_claimed"))
        claim_event = next(e for e in seen_claim["events"] if e["event"] == "htlc_claimed")
        assert claim_event["preimage"] == SECRET.hex()


def test_grpc_serves_htlcs_light_blocks_and_verifiable_proofs(cluster: LiveCluster) -> None:
    import grpc

    from bftx.api.grpc import bftx_pb2 as pb
    from bftx.api.grpc import bftx_pb2_grpc
    from bftx.chain import Genesis
    from bftx.client import verify_bundle

    sender, receiver = cluster.fresh_traders(2)
    with Client(cluster.api_url(), key=sender) as alice:
        locked = alice.htlc_lock("USD", "5", receiver.address, crypto.sha256(SECRET), later_ms())
    with grpc.insecure_channel(cluster.grpc_target()) as channel:
        stub = bftx_pb2_grpc.BftxStub(channel)
        htlc = stub.GetHtlc(pb.GetContractRequest(id=bytes.fromhex(locked["id"])), timeout=5)
        assert (htlc.status, htlc.amount, htlc.receiver) == ("open", "5.000000", receiver.address)
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetDeal(pb.GetContractRequest(id=bytes(32)), timeout=5)
        assert missing.value.code() is grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as bad:
            stub.GetProof(pb.GetProofRequest(key="nonsense"), timeout=5)
        assert bad.value.code() is grpc.StatusCode.INVALID_ARGUMENT

        def proof() -> Any:
            try:
                answer = stub.GetProof(pb.GetProofRequest(key=f"htlc:{locked['id']}"), timeout=5)
            except grpc.RpcError:
                return None
            return answer if answer.present else None  # certified 4 blocks after the lock

        found = wait_for(proof, 10.0, "a certified proof of the HTLC")
        light = stub.GetLightBlock(pb.GetLightBlockRequest(height=1), timeout=5)
        assert light.height == 1 and light.header
    bundle = {
        "proof": found.proof.hex(),
        "header": found.header.hex(),
        "certificate": found.certificate.hex(),
    }
    verified = verify_bundle(Genesis.load(cluster.testnet.nodes[0].genesis_file), bundle)
    assert verified.value is not None and verified.value == found.value
