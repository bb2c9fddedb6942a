"""WebSocket streams at /v1/ws against a live in-process cluster (tests/api/conftest.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bftx.api import websocket as websocket_module
from bftx.exchange import Side
from tests.api.support import LiveCluster

Message = dict[str, Any]
RECEIVE_TIMEOUT_S = 5.0


class LocalBook:
    """What a client keeps: levels by price, the last sequence applied, and gap detection."""

    def __init__(self, snapshot: Message) -> None:
        assert snapshot["type"] == "book_snapshot"
        self.sequence: int = snapshot["sequence"]
        self.bids = {price: amount for price, amount in snapshot["bids"]}
        self.asks = {price: amount for price, amount in snapshot["asks"]}

    def follows(self, diff: Message) -> bool:
        return bool(diff["previous_sequence"] == self.sequence)

    def apply(self, diff: Message) -> None:
        assert self.follows(diff), "a gap: resync instead"
        for levels, changes in ((self.bids, diff["bids"]), (self.asks, diff["asks"])):
            for price, amount in changes:
                if amount == "0":
                    levels.pop(price, None)
                else:
                    levels[price] = amount
        self.sequence = diff["sequence"]


@pytest.fixture
def ws(cluster: LiveCluster) -> Iterator[ClientConnection]:
    with connect(cluster.ws_url(), open_timeout=5, close_timeout=2) as connection:
        yield connection


def receive(connection: ClientConnection, timeout_s: float = RECEIVE_TIMEOUT_S) -> Message:
    message: Message = json.loads(connection.recv(timeout=timeout_s))
    return message


def receive_until(
    connection: ClientConnection,
    wanted: Callable[[Message], bool],
    timeout_s: float = RECEIVE_TIMEOUT_S,
) -> Message:
    """The next message ``wanted`` accepts, skipping others (block messages, say)."""
    deadline = time.monotonic() + timeout_s
    while True:
        message = receive(connection, max(0.01, deadline - time.monotonic()))
        if wanted(message):
            return message


def request(connection: ClientConnection, **fields: Any) -> None:
    connection.send(json.dumps(fields))


def subscribe(connection: ClientConnection, **fields: Any) -> Message:
    request(connection, op="subscribe", **fields)
    ack = receive_until(connection, lambda m: m["type"] in ("subscribed", "error"))
    assert ack["type"] == "subscribed", ack
    return ack


def subscribe_book(connection: ClientConnection) -> LocalBook:
    subscribe(connection, channel="book", market="BTC-USD")
    return LocalBook(receive_until(connection, lambda m: m["type"] == "book_snapshot"))


def rest_book(cluster: LiveCluster) -> tuple[int, dict[str, str], dict[str, str]]:
    body = cluster.http.get(f"{cluster.api_url()}/v1/markets/BTC-USD/book").json()
    return (
        body["sequence"],
        {level["price"]: level["amount"] for level in body["bids"]},
        {level["price"]: level["amount"] for level in body["asks"]},
    )


def is_diff(message: Message) -> bool:
    return bool(message["type"] == "book_diff")


def test_book_snapshot_then_one_diff_per_changing_block_in_sequence(
    cluster: LiveCluster, ws: ClientConnection
) -> None:
    book = subscribe_book(ws)
    buyer, seller = cluster.fresh_traders(2)
    heights = [
        cluster.place(buyer, Side.BUY, 4_000_000, 200)["height"],  # bid 40,000 x 0.02
        cluster.place(seller, Side.SELL, 5_000_000, 300)["height"],  # ask 50,000 x 0.03
        cluster.place(seller, Side.SELL, 3_900_000, 50)["height"],  # crosses: bid 40,000 -> 0.015
    ]
    for height in heights:
        diff = receive_until(ws, is_diff)
        assert diff["sequence"] == height  # one diff per block that changed the book
        book.apply(diff)  # asserts previous_sequence is the last sequence applied
    assert book.bids["40000"] == "0.01500000"
    assert book.asks["50000"] == "0.03000000"
    sequence, bids, asks = rest_book(cluster)
    assert sequence >= book.sequence
    assert (bids, asks) == (book.bids, book.asks)


def test_a_client_that_misses_a_diff_detects_the_gap_and_resyncs(
    cluster: LiveCluster, ws: ClientConnection
) -> None:
    book = subscribe_book(ws)
    trader = cluster.fresh_traders(1)[0]
    for lots in (10, 20, 30):
        cluster.place(trader, Side.BUY, 3_000_000 + lots, lots)
    book.apply(receive_until(ws, is_diff))
    receive_until(ws, is_diff)  # lost on the way
    third = receive_until(ws, is_diff)
    assert not book.follows(third)  # the gap shows: previous_sequence is not our last
    resynced = subscribe_book(ws)  # subscribing again sends a new snapshot
    assert resynced.sequence >= third["sequence"]
    _, bids, asks = rest_book(cluster)
    assert (resynced.bids, resynced.asks) == (bids, asks)
    assert resynced.bids["30000.3"] == "0.00300000"
    cluster.place(trader, Side.BUY, 3_000_040, 40)
    resynced.apply(receive_until(ws, is_diff))  # and diffs follow the new snapshot
    assert resynced.bids["30000.4"] == "0.00400000"


def test_trades_and_account_events_after_a_committed_trade(
    cluster: LiveCluster, ws: ClientConnection
) -> None:
    maker, taker = cluster.fresh_traders(2)
    subscribe(ws, channel="trades", market="btc-usd")
    subscribe(ws, channel="account", address=maker.address.hex())
    subscribe(ws, channel="account", address="0x" + taker.address.hex().upper())
    # Prices are chosen so that no other test's resting orders match (tests share the book).
    placed = cluster.place(maker, Side.SELL, 4_500_000, 15_000)  # 1.5 BTC at 45,000
    crossed = cluster.place(taker, Side.BUY, 4_500_000, 15_000)  # buys all of it

    received: dict[tuple[str, str, int], Message] = {}
    while len(received) < 4:  # trades, the maker twice, the taker once
        message = receive(ws)
        received[(message["type"], message.get("address", ""), message["height"])] = message
    trades = received["trades", "", crossed["height"]]
    [trade] = trades["trades"]
    assert (trade["price"], trade["amount"], trade["taker_side"]) == ("45000", "1.50000000", "buy")
    assert trade["maker_order_id"] == f"{maker.address.hex()}:0"
    maker_placed = received["account", maker.address.hex(), placed["height"]]
    assert [e["event"] for e in maker_placed["events"]] == ["tx", "order_placed"]
    events = received["account", taker.address.hex(), crossed["height"]]["events"]
    assert [e["event"] for e in events] == ["tx", "order_placed", "fill", "order_closed"]
    fill = events[2]
    assert (fill["role"], fill["side"], fill["fee_asset"]) == ("taker", "buy", "BTC")
    assert events[3]["reason"] == "filled"
    maker_fill = received["account", maker.address.hex(), crossed["height"]]
    assert [e["event"] for e in maker_fill["events"]] == ["fill", "order_closed"]
    assert maker_fill["events"][0]["role"] == "maker"
    rest = cluster.http.get(f"{cluster.api_url()}/v1/accounts/{maker.address.hex()}").json()
    expected = [
        {"asset": b["asset"], "available": b["available"], "locked": b["locked"]}
        for b in rest["balances"]
    ]
    assert maker_fill["balances"] == expected
    assert {"asset": "BTC", "available": "98.50000000", "locked": "0.00000000"} in expected


def test_blocks_arrive_in_height_order_with_their_certificate(
    cluster: LiveCluster, ws: ClientConnection
) -> None:
    subscribe(ws, channel="blocks")
    trader = cluster.fresh_traders(1)[0]
    committed = cluster.place(trader, Side.BUY, 2_000_000, 1)
    blocks = [receive_until(ws, lambda m: m["type"] == "block")]
    while blocks[-1]["height"] < committed["height"]:
        blocks.append(receive_until(ws, lambda m: m["type"] == "block"))
    heights = [block["height"] for block in blocks]
    assert heights == list(range(heights[0], committed["height"] + 1))
    assert all(block["certificate"]["signers"] == ["node0"] for block in blocks)
    assert committed["tx_hash"] in blocks[-1]["tx_hashes"]


def test_unsubscribe_stops_the_stream(cluster: LiveCluster, ws: ClientConnection) -> None:
    subscribe(ws, channel="blocks", id=7)
    receive_until(ws, lambda m: m["type"] == "block")
    request(ws, op="unsubscribe", channel="blocks", id="x")
    ack = receive_until(ws, lambda m: m["type"] == "unsubscribed")
    assert ack == {"type": "unsubscribed", "channel": "blocks", "id": "x"}
    with pytest.raises(TimeoutError):
        receive(ws, 0.5)  # blocks commit every ~100 ms: none comes any more


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nonsense", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"op": "subscribe", "id": [1]}', "invalid_message"),
        ('{"op": "fly"}', "unknown_op"),
        ('{"op": "subscribe", "channel": "weather"}', "unknown_channel"),
        ('{"op": "subscribe", "channel": "book"}', "invalid_market"),
        ('{"op": "subscribe", "channel": "trades", "market": 5}', "invalid_market"),
        ('{"op": "subscribe", "channel": "book", "market": "DOGE-USD"}', "unknown_market"),
        ('{"op": "subscribe", "channel": "account", "address": "0x12"}', "invalid_address"),
        ('{"op": "subscribe", "channel": "account"}', "invalid_address"),
        ('{"op": "unsubscribe", "channel": "blocks"}', "not_subscribed"),
        (json.dumps({"op": "ping", "pad": "x" * 5000}), "message_too_large"),
    ],
)
def test_a_malformed_message_gets_an_error_and_the_connection_lives_on(
    ws: ClientConnection, text: str, code: str
) -> None:
    ws.send(text)
    error = receive(ws)
    assert error["type"] == "error" and error["code"] == code, error
    assert error["message"]
    request(ws, op="ping", id=1)
    assert receive(ws)["type"] == "pong"


def test_binary_frames_are_refused_politely(ws: ClientConnection) -> None:
    ws.send(b"\x00\x01")
    assert receive(ws)["code"] == "binary_not_supported"
    request(ws, op="ping")
    assert receive(ws)["type"] == "pong"


def test_errors_echo_the_request_id(ws: ClientConnection) -> None:
    request(ws, op="subscribe", channel="nope", id="abc")
    assert receive(ws) == {
        "type": "error",
        "code": "unknown_channel",
        "message": "channel must be book, trades, blocks or account",
        "id": "abc",
    }


def test_a_client_too_slow_for_its_queue_is_disconnected_with_a_reason(
    cluster: LiveCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One committed trade puts five messages at once in each subscriber's queue (book diff,
    # trades, block, two accounts): more than a queue of three holds.
    monkeypatch.setattr(websocket_module, "SEND_QUEUE_MESSAGES_MAX", 3)
    maker, taker = cluster.fresh_traders(2)
    with connect(cluster.ws_url(), open_timeout=5) as connection:
        subscribe(connection, channel="book", market="BTC-USD")
        receive_until(connection, lambda m: m["type"] == "book_snapshot")
        subscribe(connection, channel="trades", market="BTC-USD")
        subscribe(connection, channel="account", address=maker.address.hex())
        subscribe(connection, channel="account", address=taker.address.hex())
        subscribe(connection, channel="blocks")
        cluster.place(maker, Side.SELL, 4_600_000, 10)
        cluster.place(taker, Side.BUY, 4_600_000, 10)
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                connection.recv(timeout=RECEIVE_TIMEOUT_S)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == websocket_module.CLOSE_SLOW_CONSUMER
    assert closed.value.rcvd.reason.startswith("slow consumer")


def test_funds_sent_to_another_chain_reach_the_account_channel(
    cluster: LiveCluster, ws: ClientConnection
) -> None:
    from bftx.client import Client
    from bftx.crypto import KeyPair

    other = [KeyPair.from_seed(bytes([n + 40]) * 32) for n in range(4)]
    genesis = {
        "chain_id": "far-chain",
        "validators": [
            {"name": f"v{n}", "public_key": k.public_key.hex()} for n, k in enumerate(other)
        ],
        "exchange": {"assets": [], "markets": [], "accounts": []},
    }
    (sender,) = cluster.fresh_traders(1)
    subscribe(ws, channel="account", address=sender.address.hex())
    with Client(cluster.api_url(), key=sender) as client:
        client_id = client.ibc_create_client(genesis, 3_600_000)["id"]
        timeout_ms = int(time.time() * 1000) + 600_000
        sent = client.ibc_transfer("BTC", "0.25", bytes(20), client_id, "client-0", timeout_ms)
    message = receive_until(
        ws,
        lambda m: (
            m["type"] == "account" and any(e["event"] == "ibc_sent" for e in m.get("events", []))
        ),
    )
    (event,) = [e for e in message["events"] if e["event"] == "ibc_sent"]
    assert (event["client_id"], event["sequence"], event["amount"]) == (
        client_id,
        sent["sequence"],
        "0.25000000",
    )
