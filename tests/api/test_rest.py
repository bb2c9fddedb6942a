"""REST API v1 against a live one-validator cluster: every endpoint, and the shape of every error.

Each test trades with its own fresh accounts at its own prices, so tests do
not depend on each other's nonces or resting orders. Prices are in ticks
($0.01 per BTC), sizes in lots (0.0001 BTC).
"""

from __future__ import annotations

import asyncio
import base64
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest

from bftx import codec, limits
from bftx.access import AccessPolicy
from bftx.api.rest import create_app
from bftx.exchange import CancelOrder, OrderType, PlaceOrder, Side, sign_tx
from bftx.node.runtime import Node
from bftx.node.testnet import CHAIN_ID, TRADER_USD
from bftx.store import account_trades
from tests.api.support import LiveCluster, wait_for

MARKET = "BTC/USD"
PROBLEM = "application/problem+json"
ZERO_HASH = "00" * 32
UNKNOWN_ADDRESS = "ab" * 20


def get(cluster: LiveCluster, path: str, **params: Any) -> httpx.Response:
    return cluster.http.get(f"{cluster.api_url()}{path}", params=params or None)


def post(cluster: LiveCluster, path: str, **kwargs: Any) -> httpx.Response:
    return cluster.http.post(f"{cluster.api_url()}{path}", **kwargs)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def assert_problem(response: httpx.Response, status: int, code: str, mentions: str = "") -> None:
    """An RFC 9457 problem with our stable ``code`` and a detail that says what was wrong."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(f"/{code}")
    assert body["title"]
    assert body["detail"]
    assert mentions.lower() in body["detail"].lower(), body["detail"]


def b64(tx: bytes) -> str:
    return base64.b64encode(tx).decode()


# --- node ----------------------------------------------------------------------------


def test_health_is_ok_while_the_node_runs(cluster: LiveCluster) -> None:
    assert ok(get(cluster, "/v1/health")) == {"status": "ok"}


def test_status_reports_height_view_primary_and_validators(cluster: LiveCluster) -> None:
    status = ok(get(cluster, "/v1/status"))
    assert status["node"] == "node0"
    assert status["mode"] == "validator"
    assert status["chain_id"] == CHAIN_ID
    assert status["height"] >= 0
    assert status["view"] == 0 and status["primary"] == 0 and status["validator_index"] == 0
    assert status["validators"] == ["node0"]
    assert status["peers_connected"] == []
    assert status["halted"] is None
    assert len(status["state_root"]) == 64


def test_openapi_and_interactive_docs_are_served(cluster: LiveCluster) -> None:
    schema = ok(get(cluster, "/openapi.json"))
    assert {"/v1/txs", "/v1/txs/batch", "/v1/markets/{symbol}/book", "/v1/blocks/latest"} <= set(
        schema["paths"]
    )
    docs = get(cluster, "/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


# --- markets -------------------------------------------------------------------------


def test_markets_list_increments_and_fees(cluster: LiveCluster) -> None:
    (market,) = ok(get(cluster, "/v1/markets"))
    assert market == {
        "symbol": MARKET,
        "base": "BTC",
        "quote": "USD",
        "tick": "0.01",
        "lot": "0.00010000",  # sizes and balances carry the asset's decimals
        "min_size": "0.00010000",
        "maker_fee_bps": 2,
        "taker_fee_bps": 5,
    }


def test_a_resting_order_shows_in_book_open_orders_one_order_and_locked_balance(
    cluster: LiveCluster,
) -> None:
    (key,) = cluster.fresh_traders(1)
    address = key.address.hex()
    nonce = cluster.nonce(key)
    receipt = cluster.place(key, Side.BUY, 1_000_000, 25)  # buy 0.0025 BTC at $10,000
    assert receipt["code"] == "ok"

    book = ok(get(cluster, "/v1/markets/BTC-USD/book", depth=1000))
    assert book["market"] == MARKET
    assert book["sequence"] >= receipt["height"]
    level = next(level for level in book["bids"] if level["price_ticks"] == 1_000_000)
    assert level["price"] == "10000" and level["quantity_lots"] >= 25
    assert Decimal(level["amount"]) == Decimal(level["quantity_lots"]) / 10_000

    (order,) = ok(get(cluster, f"/v1/accounts/{address}/orders"))
    assert order == ok(get(cluster, f"/v1/accounts/{address}/orders/{nonce}"))
    assert order["order_id"] == f"{address}:{nonce}"
    assert order["market"] == MARKET and order["owner"] == address and order["nonce"] == nonce
    assert (order["side"], order["type"], order["price"], order["price_ticks"]) == (
        "buy",
        "limit",
        "10000",
        1_000_000,
    )
    assert (order["amount"], order["remaining"]) == ("0.00250000", "0.00250000")
    assert (order["quantity_lots"], order["remaining_lots"], order["expires_at_ms"]) == (25, 25, 0)

    account = ok(get(cluster, f"/v1/accounts/{address}"))
    assert account["address"] == address and account["registered"] is True
    assert account["nonce"] == nonce + 1
    usd = next(b for b in account["balances"] if b["asset"] == "USD")
    assert usd["locked"] == "25.000000" and usd["locked_units"] == str(25 * 1_000_000)
    assert int(usd["available_units"]) + int(usd["locked_units"]) == TRADER_USD


def test_a_crossing_order_trades_and_every_view_agrees(cluster: LiveCluster) -> None:
    maker, taker = cluster.fresh_traders(2)
    maker_nonce, taker_nonce = cluster.nonce(maker), cluster.nonce(taker)
    cluster.place(maker, Side.SELL, 9_000_000, 30)  # sell 0.003 BTC at $90,000
    receipt = cluster.place(taker, Side.BUY, 9_000_000, 30)
    assert receipt["status"] == "committed" and receipt["code"] == "ok"
    assert receipt["message"] and receipt["position"] >= 0
    kinds = [event["kind"] for event in receipt["events"]]
    assert kinds.count("trade") == 1 and "order_closed" in kinds
    trade_event = next(event for event in receipt["events"] if event["kind"] == "trade")
    assert trade_event["quantity_lots"] == 30 and trade_event["price_ticks"] == 9_000_000
    assert trade_event["taker_side"] == "buy"

    trades = ok(get(cluster, "/v1/markets/BTC-USD/trades", limit=1000))
    trade = next(t for t in trades if t["trade_id"] == trade_event["trade_id"])
    assert (trade["price"], trade["amount"], trade["taker_side"]) == ("90000", "0.00300000", "buy")
    assert trade["maker"] == maker.address.hex() and trade["taker"] == taker.address.hex()
    assert trade["maker_order_id"] == f"{maker.address.hex()}:{maker_nonce}"
    assert trade["taker_order_id"] == f"{taker.address.hex()}:{taker_nonce}"
    assert trade["height"] == receipt["height"]
    ids = [t["trade_id"] for t in trades]
    assert ids == sorted(ids, reverse=True)  # newest first

    for key in (maker, taker):
        own = ok(get(cluster, f"/v1/accounts/{key.address.hex()}/trades", market="BTC-USD"))
        assert [t["trade_id"] for t in own] == [trade["trade_id"]]
        assert ok(get(cluster, f"/v1/accounts/{key.address.hex()}/orders")) == []
    assert_problem(
        get(cluster, f"/v1/accounts/{maker.address.hex()}/orders/{maker_nonce}"),
        404,
        "unknown_order",
        "filled or cancelled",
    )


def test_blocks_carry_their_txs_and_commit_certificate(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    tx = cluster.order_tx(key, cluster.nonce(key), Side.BUY, 1_100_000, 1)
    tx_hash = cluster.submit(tx)
    height = cluster.wait_committed(tx_hash)["height"]

    block = ok(get(cluster, f"/v1/blocks/{height}"))
    assert block["height"] == height
    assert tx_hash in block["txs"]
    assert len(block["hash"]) == 64 and len(block["state_root"]) == 64
    assert block["proposer"] == 0 and block["certificate_view"] == block["view"] == 0
    assert [(s["validator"], s["name"]) for s in block["signatures"]] == [(0, "node0")]
    assert len(block["signatures"][0]["signature"]) == 128  # Ed25519

    latest = ok(get(cluster, "/v1/blocks/latest"))
    assert latest["height"] >= height
    assert ok(get(cluster, f"/v1/blocks/{latest['height']}")) == latest


# --- submitting ----------------------------------------------------------------------


def test_submit_accepts_base64_and_hex_and_reports_status_until_committed(
    cluster: LiveCluster,
) -> None:
    (key,) = cluster.fresh_traders(1)
    nonce = cluster.nonce(key)
    ahead = cluster.order_tx(key, nonce + 1, Side.BUY, 1_200_000, 1)
    first = cluster.order_tx(key, nonce, Side.BUY, 1_200_000, 1)

    ahead_admission = ok(post(cluster, "/v1/txs", json={"tx": "0x" + ahead.hex()}))
    assert ahead_admission["accepted"] is True and ahead_admission["code"] == "ok"
    # its nonce is not next yet: the mempool holds it back
    assert ok(get(cluster, f"/v1/txs/{ahead_admission['tx_hash']}"))["status"] == "pending"

    first_admission = ok(post(cluster, "/v1/txs", json={"tx": b64(first)}))
    assert first_admission["accepted"] is True
    for admission in (first_admission, ahead_admission):
        status = cluster.wait_committed(admission["tx_hash"])
        assert status["code"] == "ok" and status["height"] >= 1
    assert cluster.nonce(key) == nonce + 2


def test_another_tx_with_a_pending_nonce_is_nonce_pending_not_a_duplicate(
    cluster: LiveCluster,
) -> None:
    import grpc

    from bftx.api.grpc import bftx_pb2 as pb
    from bftx.api.grpc import bftx_pb2_grpc

    (key,) = cluster.fresh_traders(1)
    nonce = cluster.nonce(key)
    held = cluster.order_tx(key, nonce + 1, Side.BUY, 1_200_000, 1)  # waits for nonce
    other = cluster.order_tx(key, nonce + 1, Side.BUY, 1_200_000, 2)
    assert ok(post(cluster, "/v1/txs", json={"tx": b64(held)}))["accepted"] is True

    same = ok(post(cluster, "/v1/txs", json={"tx": b64(held)}))
    assert (same["accepted"], same["code"]) == (False, "duplicate_tx")
    assert "already known" in same["message"]

    conflict = ok(post(cluster, "/v1/txs", json={"tx": b64(other)}))
    assert (conflict["accepted"], conflict["code"]) == (False, "nonce_pending")
    assert "another tx with this nonce is pending" in conflict["message"]
    status = ok(get(cluster, f"/v1/txs/{conflict['tx_hash']}"))
    assert (status["status"], status["code"]) == ("rejected", "nonce_pending")
    assert status["message"] == conflict["message"]

    with grpc.insecure_channel(cluster.grpc_target()) as channel:
        summary = bftx_pb2_grpc.BftxStub(channel).SubmitTxs(
            iter([pb.TxBatch(txs=[other, held])]), timeout=5
        )
    assert dict(summary.codes) == {"nonce_pending": 1, "duplicate_tx": 1}
    assert [r.code for r in summary.rejections] == ["nonce_pending", "duplicate_tx"]

    cluster.wait_committed(cluster.submit(cluster.order_tx(key, nonce, Side.BUY, 1_200_000, 1)))
    assert cluster.wait_committed(same["tx_hash"])["code"] == "ok"  # the held tx, released


def test_submit_reports_admission_rejections_with_their_code(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    tx = cluster.order_tx(key, cluster.nonce(key), Side.BUY, 1_300_000, 1)
    cluster.wait_committed(cluster.submit(tx))

    again = ok(post(cluster, "/v1/txs", json={"tx": b64(tx)}))
    assert again["accepted"] is False and again["code"] in ("nonce_used", "duplicate_tx")
    assert again["message"]

    poor = cluster.order_tx(key, cluster.nonce(key), Side.BUY, 1_300_000, 10**7)  # 1000 BTC: $13M
    refused = ok(post(cluster, "/v1/txs", json={"tx": b64(poor)}))
    assert (refused["accepted"], refused["code"]) == (False, "insufficient_funds")
    status = ok(get(cluster, f"/v1/txs/{refused['tx_hash']}"))
    assert (status["status"], status["code"]) == ("rejected", "insufficient_funds")
    assert status["message"] and status["height"] is None
    assert ok(get(cluster, f"/v1/txs/{again['tx_hash']}"))["status"] == "committed"

    garbage = ok(post(cluster, "/v1/txs", json={"tx": b64(b"\x01\x02\x03")}))
    assert garbage == {**garbage, "accepted": False, "tx_hash": None}
    assert garbage["code"] != "ok"

    wrong_chain = sign_tx(key, "another-chain", cluster.nonce(key), CancelOrder(order_nonce=0))
    refused = ok(post(cluster, "/v1/txs", json={"tx": b64(wrong_chain)}))
    assert refused["accepted"] is False and refused["code"] != "ok"


def test_batch_submits_json_and_compact_binary(cluster: LiveCluster) -> None:
    json_key, binary_key = cluster.fresh_traders(2)
    json_txs = [
        cluster.order_tx(json_key, cluster.nonce(json_key) + i, Side.BUY, 1_400_000 + i, 1)
        for i in range(3)
    ]
    result = ok(post(cluster, "/v1/txs/batch", json={"txs": [b64(tx) for tx in json_txs]}))
    assert result["accepted"] == 3
    assert [r["accepted"] for r in result["results"]] == [True] * 3

    binary_txs = [
        cluster.order_tx(binary_key, cluster.nonce(binary_key) + i, Side.BUY, 1_500_000 + i, 1)
        for i in range(3)
    ]
    binary = ok(
        post(
            cluster,
            "/v1/txs/batch",
            content=codec.encode(tuple(binary_txs)),
            headers={"content-type": "Application/Octet-Stream"},  # media types ignore case
        )
    )
    assert binary["accepted"] == 3
    for admission in result["results"] + binary["results"]:
        assert cluster.wait_committed(admission["tx_hash"])["code"] == "ok"

    mixed = ok(post(cluster, "/v1/txs/batch", json={"txs": [b64(json_txs[0]), b64(b"\x00")]}))
    assert mixed["accepted"] == 0
    assert [r["accepted"] for r in mixed["results"]] == [False, False]


def test_a_cancelled_order_leaves_the_book(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    nonce = cluster.nonce(key)
    cluster.place(key, Side.SELL, 20_000_000, 7)
    cancel = sign_tx(key, CHAIN_ID, nonce + 1, CancelOrder(order_nonce=nonce))
    status = cluster.wait_committed(cluster.submit(cancel))
    assert status["code"] == "ok"
    closed = [e for e in status["events"] if e["kind"] == "order_closed"]
    assert closed and closed[0]["reason"] == "cancelled"
    assert ok(get(cluster, f"/v1/accounts/{key.address.hex()}/orders")) == []
    book = ok(get(cluster, "/v1/markets/BTC-USD/book", depth=1000))
    assert all(level["price_ticks"] != 20_000_000 for level in book["asks"])


def test_an_unknown_tx_hash_reads_unknown(cluster: LiveCluster) -> None:
    body = ok(get(cluster, f"/v1/txs/0x{ZERO_HASH}"))
    assert body["status"] == "unknown" and body["tx_hash"] == ZERO_HASH
    assert body["height"] is None and body["events"] == []


def test_an_unknown_account_has_no_balances_and_nonce_zero(cluster: LiveCluster) -> None:
    account = ok(get(cluster, f"/v1/accounts/0x{UNKNOWN_ADDRESS.upper()}"))
    assert account == {
        "address": UNKNOWN_ADDRESS,
        "registered": False,
        "nonce": 0,
        "balances": [],
    }


# --- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "mentions"),
    [
        ("0xzz", "invalid_encoding", "hex"),
        ("0x123", "invalid_encoding", "even number"),
        ("not base64!", "invalid_encoding", "base64"),
        ("QUJD", "malformed", ""),  # valid base64 of b"ABC": decodes, the node says why not
        ("QUJDRA", "invalid_encoding", "base64"),  # unpadded
        ("", "invalid_request", "tx"),
        (b64(b"\x00" * (limits.tx_bytes_max + 1)), "malformed", f"1 to {limits.tx_bytes_max}"),
        ("0x" + "00" * (limits.tx_bytes_max + 1), "invalid_request", "tx"),
    ],
)
def test_a_malformed_tx_text_is_a_400_that_says_why(
    cluster: LiveCluster, text: str, code: str, mentions: str
) -> None:
    response = post(cluster, "/v1/txs", json={"tx": text})
    if code == "malformed" and not mentions:  # decodable: an admission result, not an error
        assert ok(response)["accepted"] is False
        return
    assert_problem(response, 400, code, mentions)
    assert_problem(post(cluster, "/v1/txs/batch", json={"txs": [text]}), 400, code, mentions)


def test_a_bad_request_body_is_a_400(cluster: LiveCluster) -> None:
    assert_problem(post(cluster, "/v1/txs"), 400, "invalid_request", "body")
    assert_problem(
        post(
            cluster, "/v1/txs", content=b"{not json", headers={"content-type": "application/json"}
        ),
        400,
        "invalid_request",
    )
    assert_problem(post(cluster, "/v1/txs", json={"tx": 5}), 400, "invalid_request", "tx")
    assert_problem(post(cluster, "/v1/txs/batch", json=["a"]), 400, "invalid_request", "txs")
    too_many = {"txs": ["AA=="] * (limits.txs_per_block_max + 1)}
    assert_problem(post(cluster, "/v1/txs/batch", json=too_many), 400, "invalid_request")


def test_a_batch_with_another_content_type_is_a_415(cluster: LiveCluster) -> None:
    response = post(
        cluster, "/v1/txs/batch", content=b"hello", headers={"content-type": "text/plain"}
    )
    assert_problem(response, 415, "unsupported_media_type", "application/octet-stream")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\xff\xff",
        codec.encode(5),  # not a list
        codec.encode((5,)),  # not bytes
        codec.encode((b"\x00" * (limits.tx_bytes_max + 1),)),  # oversized tx
    ],
)
def test_a_malformed_binary_batch_is_a_400(cluster: LiveCluster, body: bytes) -> None:
    response = post(
        cluster, "/v1/txs/batch", content=body, headers={"content-type": "application/octet-stream"}
    )
    assert_problem(response, 400, "malformed", "binary batch")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/markets/ETH-USD/book",
        "/v1/markets/ETH-USD/trades",
        f"/v1/accounts/{UNKNOWN_ADDRESS}/trades?market=ETH-USD",
    ],
)
def test_an_unknown_market_is_a_404(cluster: LiveCluster, path: str) -> None:
    assert_problem(get(cluster, path), 404, "unknown_market", "ETH-USD")


@pytest.mark.parametrize(
    ("path", "mentions"),
    [
        ("/v1/accounts/xyz", "address"),
        (f"/v1/accounts/{UNKNOWN_ADDRESS}00", "address"),
        ("/v1/accounts/xyz/orders", "address"),
        (f"/v1/accounts/{UNKNOWN_ADDRESS}/orders/-1", "nonce"),
        (f"/v1/accounts/{UNKNOWN_ADDRESS}/orders/abc", "nonce"),
        (f"/v1/accounts/{UNKNOWN_ADDRESS}/trades", "market"),  # required
        ("/v1/txs/1234", "tx_hash"),
        ("/v1/txs/" + "g" * 64, "tx_hash"),
        ("/v1/blocks/0", "height"),
        ("/v1/blocks/latest2", "height"),
        ("/v1/markets/BTCUSD/book", "symbol"),
        ("/v1/markets/BTC-USD/book?depth=0", "depth"),
        (f"/v1/markets/BTC-USD/book?depth={limits.book_depth_levels_max + 1}", "depth"),
        ("/v1/markets/BTC-USD/trades?limit=abc", "limit"),
    ],
)
def test_a_malformed_parameter_is_a_400_naming_it(
    cluster: LiveCluster, path: str, mentions: str
) -> None:
    assert_problem(get(cluster, path), 400, "invalid_request", mentions)


def test_missing_things_are_404s(cluster: LiveCluster) -> None:
    assert_problem(get(cluster, "/v1/blocks/999999999"), 404, "unknown_block", "latest is")
    assert_problem(
        get(cluster, f"/v1/accounts/{UNKNOWN_ADDRESS}/orders/7"), 404, "unknown_order", "7"
    )
    assert_problem(get(cluster, "/v1/nothing"), 404, "not_found")


def test_a_wrong_method_is_a_405_with_allow(cluster: LiveCluster) -> None:
    response = cluster.http.delete(f"{cluster.api_url()}/v1/markets")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"
    batch = get(cluster, "/v1/txs/batch")  # not mistaken for a tx hash
    assert_problem(batch, 405, "method_not_allowed")
    assert batch.headers["allow"] == "POST"


def test_the_node_keeps_serving_after_bad_input(cluster: LiveCluster) -> None:
    height = ok(get(cluster, "/v1/status"))["height"]
    wait_for(lambda: ok(get(cluster, "/v1/status"))["height"] > height, 10.0, "a new block")
    assert ok(get(cluster, "/v1/health")) == {"status": "ok"}


def test_an_order_tx_for_an_unknown_market_commits_with_its_rejection_code(
    cluster: LiveCluster,
) -> None:
    (key,) = cluster.fresh_traders(1)
    order = PlaceOrder("ETH/USD", Side.BUY, OrderType.LIMIT, 100, 1, 0)
    admission = ok(
        post(
            cluster, "/v1/txs", json={"tx": b64(sign_tx(key, CHAIN_ID, cluster.nonce(key), order))}
        )
    )
    if admission["accepted"]:  # admission checks funds, not markets: execution rejects it
        status = cluster.wait_committed(admission["tx_hash"])
        assert status["code"] not in ("ok", None) and status["message"]
    else:
        assert admission["code"] != "ok" and admission["message"]


def test_a_bug_is_a_500_problem_without_a_traceback() -> None:
    class BrokenNode:
        genesis = SimpleNamespace(access=AccessPolicy(), validators=())  # open reads

        def status(self) -> dict[str, Any]:
            raise RuntimeError("a bug with a secret in its message")

    async def ask() -> httpx.Response:
        app = create_app(cast(Node, BrokenNode()))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://node") as client:
            return await client.get("/v1/status")

    response = asyncio.run(ask())
    assert_problem(response, 500, "internal_error", "RuntimeError")
    assert "secret" not in response.text


def test_account_trades_while_the_index_is_far_behind_are_a_retryable_503(
    cluster: LiveCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query scans the trades the index lacks on the event loop; past a bound (a long
    history being indexed afresh) it is refused with a clear, retryable problem instead."""
    path = f"/v1/accounts/{UNKNOWN_ADDRESS}/trades?market=BTC-USD"
    assert get(cluster, path).status_code == 200
    monkeypatch.setattr(account_trades, "SCAN_ROWS_MAX", -1)  # every lag is too far
    response = get(cluster, path)
    assert_problem(response, 503, "catching_up", "retry")
    assert response.headers["Retry-After"] == "5"
