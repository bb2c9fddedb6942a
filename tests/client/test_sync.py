"""The blocking SDK (`bftx.client.Client`) against a live one-validator cluster.

Every test trades with its own fresh accounts at its own prices. BTC/USD has a
lot of 0.0001 BTC and a tick of $0.01; the maker pays 2 bps of the USD it
receives, the taker 5 bps of the BTC it receives, rounded up.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from bftx import limits
from bftx.client import Client, ClientError, InvalidArgument, InvalidOrder, OrderRejected, TimedOut
from bftx.crypto import KeyPair
from bftx.exchange import Side
from tests.api.support import LiveCluster, wait_for

SYMBOL = "BTC/USD"


def client(cluster: LiveCluster, key: KeyPair | None = None, **options: object) -> Client:
    return Client(cluster.api_url(), key=key, **options)  # type: ignore[arg-type]


def totals(trader: Client) -> dict[str, Decimal]:
    balance = trader.fetch_balance()
    return {asset: Decimal(amount) for asset, amount in balance["total"].items()}


def test_a_limit_order_rests_and_reports_its_receipt(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as trader:
        order = trader.create_order(SYMBOL, "limit", "buy", "0.0025", "10000")
        assert order["id"] == f"{trader.address}:0"
        assert (order["symbol"], order["type"], order["side"]) == (SYMBOL, "limit", "buy")
        assert (order["price"], order["amount"]) == ("10000", "0.0025")
        assert (order["status"], order["filled"], order["remaining"]) == ("open", "0", "0.0025")
        info = order["info"]
        assert info["code"] == "ok" and info["height"] >= 1 and info["latency_s"] > 0
        assert len(info["tx_hash"]) == 64
        assert any(event["kind"] == "order_placed" for event in info["events"])

        (listed,) = trader.fetch_open_orders(SYMBOL)
        assert listed["id"] == order["id"] and listed["status"] == "open"
        assert listed["remaining"] == "0.00250000" and Decimal(listed["filled"]) == 0
        assert trader.fetch_open_orders("ETH/USD") == []
        fetched = trader.fetch_order(order["id"], SYMBOL)
        assert fetched["status"] == "open" and fetched["price"] == "10000"

        balance = trader.fetch_balance()
        assert Decimal(balance["USD"]["used"]) == Decimal("25")  # 0.0025 BTC at 10,000
        assert balance["used"]["USD"] == balance["USD"]["used"]
        assert Decimal(balance["USD"]["total"]) == Decimal(balance["USD"]["free"]) + 25


def test_a_crossing_order_fills_and_balances_move_by_the_trade_and_fees(
    cluster: LiveCluster,
) -> None:
    maker_key, taker_key = cluster.fresh_traders(2)
    with client(cluster, maker_key) as maker, client(cluster, taker_key) as taker:
        before = {"maker": totals(maker), "taker": totals(taker)}
        resting = maker.create_order(SYMBOL, "limit", "sell", "0.005", "50000")
        assert resting["status"] == "open"

        taken = taker.create_order(SYMBOL, "limit", "buy", "0.003", "50000.00")
        assert (taken["status"], taken["filled"], taken["remaining"]) == ("closed", "0.003", "0")

        partly = maker.fetch_order(resting["id"])
        assert (partly["status"], partly["filled"], partly["remaining"]) == (
            "open",
            "0.003",
            "0.00200000",
        )
        after = {"maker": totals(maker), "taker": totals(taker)}

    quote = Decimal("0.003") * 50_000  # 150 USD
    maker_fee = Decimal("0.03")  # ceil(150 USD * 2 bps) in micro-USD
    taker_fee = Decimal("0.0000015")  # ceil(0.003 BTC * 5 bps) in satoshis
    assert after["maker"]["BTC"] == before["maker"]["BTC"] - Decimal("0.003")
    assert after["maker"]["USD"] == before["maker"]["USD"] + quote - maker_fee
    assert after["taker"]["BTC"] == before["taker"]["BTC"] + Decimal("0.003") - taker_fee
    assert after["taker"]["USD"] == before["taker"]["USD"] - quote


def test_a_larger_order_fills_what_rests_and_rests_the_remainder(cluster: LiveCluster) -> None:
    maker_key, taker_key = cluster.fresh_traders(2)
    with client(cluster, maker_key) as maker, client(cluster, taker_key) as taker:
        maker.create_order(SYMBOL, "limit", "sell", "0.002", "51000")
        order = taker.create_order(SYMBOL, "limit", "buy", "0.005", "51000")
        assert (order["status"], order["filled"], order["remaining"]) == ("open", "0.002", "0.003")
        assert maker.fetch_open_orders() == []

        (mine,) = taker.fetch_my_trades(SYMBOL)
        assert mine["takerOrMaker"] == "taker" and mine["order"] == order["id"]
        assert (mine["price"], mine["side"]) == ("51000", "buy")
        assert Decimal(mine["amount"]) == Decimal("0.002")
        (theirs,) = maker.fetch_my_trades("BTC-USD")
        assert theirs["takerOrMaker"] == "maker" and theirs["id"] == mine["id"]
        assert theirs["side"] == "sell"  # the maker's side, not the taker's


def test_my_trades_report_my_side_whether_i_took_or_made(cluster: LiveCluster) -> None:
    """CCXT's fetch_my_trades side is the caller's: a maker's trade has the opposite of the
    taker's side (public trades keep the taker's)."""
    maker_key, taker_key = cluster.fresh_traders(2)
    with client(cluster, maker_key) as maker, client(cluster, taker_key) as taker:
        bid = maker.create_order(SYMBOL, "limit", "buy", "0.0004", "30000")
        hit = taker.create_order(SYMBOL, "limit", "sell", "0.0004", "30000")
        (made,) = maker.fetch_my_trades(SYMBOL)
        assert (made["side"], made["takerOrMaker"], made["order"]) == ("buy", "maker", bid["id"])
        (took,) = taker.fetch_my_trades(SYMBOL)
        assert (took["side"], took["takerOrMaker"], took["order"]) == ("sell", "taker", hit["id"])
        public = next(t for t in taker.fetch_trades(SYMBOL) if t["id"] == made["id"])
        assert (public["side"], public["takerOrMaker"]) == ("sell", None)


def test_an_order_is_cancelled(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as trader:
        order = trader.create_order(SYMBOL, "limit", "sell", "0.001", "200000")
        cancelled = trader.cancel_order(order["id"], SYMBOL)
        assert cancelled["status"] == "canceled" and cancelled["info"]["code"] == "ok"
        assert trader.fetch_open_orders() == []
        assert trader.fetch_order(order["id"])["status"] == "closed"
        assert Decimal(trader.fetch_balance()["BTC"]["used"]) == 0
        with pytest.raises(OrderRejected) as rejected:  # it is gone
            trader.cancel_order(order["id"])
        assert rejected.value.code != "ok"


def test_public_data_has_ccxt_shapes(cluster: LiveCluster) -> None:
    maker_key, taker_key = cluster.fresh_traders(2)
    with client(cluster, maker_key) as maker, client(cluster, taker_key) as taker:
        maker.create_order(SYMBOL, "limit", "buy", "0.0007", "9000")
        maker.create_order(SYMBOL, "limit", "buy", "0.0003", "9000")
        maker.create_order(SYMBOL, "limit", "sell", "0.0004", "300000")
        taker.create_order(SYMBOL, "limit", "sell", "0.0001", "9000")

    with client(cluster) as public:
        book = public.fetch_order_book("BTC-USD", limit=1000)
        assert book["symbol"] == SYMBOL and book["nonce"] >= 1
        assert ["9000", "0.00090000"] in book["bids"]
        assert ["300000", "0.00040000"] in book["asks"]
        bids = [Decimal(price) for price, _ in book["bids"]]
        asks = [Decimal(price) for price, _ in book["asks"]]
        assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
        assert len(public.fetch_order_book(SYMBOL, limit=1)["bids"]) == 1

        trades = public.fetch_trades(SYMBOL, limit=1000)
        trade = next(t for t in trades if t["price"] == "9000")
        assert set(trade) >= {"id", "symbol", "price", "amount", "side", "timestamp", "info"}
        assert trade["symbol"] == SYMBOL and trade["side"] == "sell"
        assert public.fetch_trades(SYMBOL, since=trade["timestamp"] + 10**9) == []

        (market,) = public.fetch_markets()
        assert market["symbol"] == SYMBOL
        status = public.fetch_status()
        assert status["chain_id"] == "bftx-testnet"
        assert public.fetch_tx("00" * 32)["status"] == "unknown"


def test_nonces_are_automatic_across_many_orders(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    count = 30
    with client(cluster, key) as trader:
        pending = [
            trader.create_order(SYMBOL, "limit", "buy", "0.0001", str(1000 + i), {"wait": False})
            for i in range(count)
        ]
        assert [order["id"] for order in pending] == [f"{trader.address}:{i}" for i in range(count)]
        assert all(order["status"] == "pending" for order in pending)
        last = trader.create_order(SYMBOL, "limit", "buy", "0.0001", "999")
        assert last["id"] == f"{trader.address}:{count}" and last["status"] == "open"
        assert len(trader.fetch_open_orders()) == count + 1
    assert cluster.nonce(key) == count + 1


def test_a_second_client_with_the_same_key_recovers_from_nonce_used(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as first, client(cluster, key) as second:
        first.create_order(SYMBOL, "limit", "buy", "0.0001", "800")  # nonce 0; first caches 1
        second.create_order(SYMBOL, "limit", "buy", "0.0001", "801")  # reads 1 from the node
        retried = first.create_order(SYMBOL, "limit", "buy", "0.0001", "802")  # 1 is used
        assert retried["id"] == f"{first.address}:2" and retried["status"] == "open"
        assert len(first.fetch_open_orders()) == 3


def test_a_second_client_with_the_same_key_recovers_from_nonce_pending(
    cluster: LiveCluster,
) -> None:
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as first, client(cluster, key) as second:
        first._nonce = second._nonce = 1  # both believe nonce 0 is used
        waiting = first.create_order(SYMBOL, "limit", "buy", "0.0001", "810", {"wait": False})
        assert waiting["id"] == f"{first.address}:1"  # pending: it waits for nonce 0
        # Nonce 1 is held by another pending tx: the node says nonce_pending, the client asks
        # it for the account's nonce (0) and signs once more, which also releases the first.
        placed = second.create_order(SYMBOL, "limit", "buy", "0.0001", "811")
        assert placed["id"] == f"{second.address}:0" and placed["status"] == "open"
        wait_for(lambda: cluster.nonce(key) == 2, 10.0, "both orders committed")
        assert len(second.fetch_open_orders()) == 2


@pytest.mark.parametrize(
    ("order_type", "amount", "price", "says"),
    [
        ("limit", "0.001", "45000.001", "tick"),  # off the $0.01 tick
        ("limit", "0.00015", "45000", "lot"),  # off the 0.0001 lot
        ("limit", "0", "45000", "lot"),
        ("limit", "-1", "45000", "lot"),
        ("limit", "abc", "45000", "not a number"),
        ("limit", "0.001", "NaN", "not finite"),
        ("market", "0.001", None, "worst price"),
        ("limit", "0.001", None, "needs a price"),
        ("stop", "0.001", "45000", "type"),
    ],
)
def test_an_invalid_order_is_refused_before_it_is_signed(
    cluster: LiveCluster, order_type: str, amount: str, price: str | None, says: str
) -> None:
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as trader:
        with pytest.raises(InvalidOrder, match=says) as refused:
            trader.create_order(SYMBOL, order_type, "buy", amount, price)
        assert refused.value.code == "invalid_order"
    assert cluster.nonce(key) == 0


BAD_ARGUMENTS: list[tuple[tuple[object, ...], str]] = [
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"expiresAtMs": "abc"}), "whole number"),
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"expiresAtMs": float("nan")}), "whole"),
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"expiresAtMs": 2**64}), "out of range"),
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"expiresAtMs": -1}), "out of range"),
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"expiresAtMs": 1.5}), "whole number"),
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"expiresAtMs": True}), "whole number"),
    (
        (SYMBOL, "limit", "buy", "0.001", "45000", {"timeInForce": "IOC", "expiresAtMs": 9}),
        "rest",
    ),
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"postOnly": "yes"}), "postOnly"),
    (
        (SYMBOL, "limit", "buy", "0.001", "45000", {"postOnly": True, "timeInForce": "FOK"}),
        "contradicts",
    ),
    (
        (SYMBOL, "limit", "buy", "0.001", "45000", {"timeInForce": None}),
        "timeInForce must be text",
    ),
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"wait": "no"}), "wait"),
    ((SYMBOL, "limit", "buy", "0.001", "45000", {"timeout": -1}), "timeout"),
    ((SYMBOL, "limit", "buy", "0.001", "45000", ["wait"]), "params must be a dict"),
    ((SYMBOL, "limit", "buy", True, "45000"), "amount True is not a number"),
    ((SYMBOL, "limit", "buy", "0.001", True), "price True is not a number"),
    ((SYMBOL, "limit", "buy", None, "45000"), "amount None is not a number"),
    ((SYMBOL, "limit", "buy", ["1"], "45000"), "not a number"),
    ((SYMBOL, "limit", None, "0.001", "45000"), "side must be text"),
    ((SYMBOL, "limit", 1, "0.001", "45000"), "side must be text"),
    ((SYMBOL, None, "buy", "0.001", "45000"), "type must be text"),
    ((SYMBOL, 0, "buy", "0.001", "45000"), "type must be text"),
    ((None, "limit", "buy", "0.001", "45000"), "symbol must be text"),
    ((7, "limit", "buy", "0.001", "45000"), "symbol must be text"),
]


def test_bad_argument_types_and_ranges_are_refused_before_signing(cluster: LiveCluster) -> None:
    """Every argument of create_order is checked: never a raw Python error, never a signed
    tx the node refuses as malformed."""
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as trader:
        for arguments, says in BAD_ARGUMENTS:
            with pytest.raises(InvalidOrder, match=says) as refused:
                trader.create_order(*arguments)  # type: ignore[arg-type]
            assert refused.value.code == "invalid_order"
    assert cluster.nonce(key) == 0


def test_an_expiry_in_range_is_signed_as_given(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as trader:
        later = int(time.time() * 1000) + 600_000
        for expiry in (later, str(later), float(later)):
            order = trader.create_order(
                SYMBOL, "limit", "buy", "0.0001", "100", {"expiresAtMs": expiry}
            )
            assert trader.fetch_order(order["id"])["info"]["expires_at_ms"] == later


def test_malformed_order_ids_and_nonces_past_the_limit_are_refused(cluster: LiveCluster) -> None:
    """An order id is 40 hex digits, a colon and a nonce up to the protocol's largest: anything
    else is an InvalidOrder before a request or a signature, never a raw ValueError."""
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as trader:
        own = trader.address
        malformed = [
            f"{own}:\u00b2",  # a digit to str.isdigit, not to int()
            f"{own}:\u0661",  # an Arabic-Indic one
            f"{own}:99999999999999999999999",
            f"{own}:",
            f"{own}:-1",
            f"{own}:1:2",
            f"{'zz' * 20}:1",
            "../../markets/BTC-USD/book?padding=xxxxxxxx:1",
            None,
            12,
        ]
        for order_id in malformed:
            with pytest.raises(InvalidOrder, match="<address>:<nonce>"):
                trader.cancel_order(order_id)  # type: ignore[arg-type]
            with pytest.raises(InvalidOrder, match="<address>:<nonce>"):
                trader.fetch_order(order_id)  # type: ignore[arg-type]
        for nonce in (limits.nonce_max + 1, 2**63, 2**64 - 1):
            with pytest.raises(InvalidOrder, match="past the largest"):
                trader.cancel_order(f"{own}:{nonce}")
            with pytest.raises(InvalidOrder, match="past the largest"):
                trader.fetch_order(f"{own}:{nonce}")
        assert trader.fetch_order(f"0x{own.upper()}:{limits.nonce_max}")["status"] == "closed"
        trader._nonce = limits.nonce_max + 1  # as if the account had used every nonce
        with pytest.raises(ClientError) as exhausted:
            trader.create_order(SYMBOL, "limit", "buy", "0.0001", "100")
        assert exhausted.value.code == "nonce_exhausted"
    assert cluster.nonce(key) == 0


def test_no_caller_string_reaches_a_url_path_unchecked(cluster: LiveCluster) -> None:
    """fetch_tx("../markets") answered with the market list: every tx hash, symbol, height and
    id that goes into a URL path is checked first (InvalidArgument, or InvalidOrder for ids)."""
    with client(cluster) as public:
        for tx_hash in ("../markets", "../../v1/status", "00" * 31, "00" * 32 + "?x=1", None):
            with pytest.raises(InvalidArgument, match="64 hex digits") as refused:
                public.fetch_tx(tx_hash)  # type: ignore[arg-type]
            assert refused.value.code == "invalid_argument"
            with pytest.raises(InvalidArgument, match="64 hex digits"):
                public.wait_for(tx_hash, timeout=1)  # type: ignore[arg-type]
        for symbol in ("..", "../status", "BTC/USD/../..", "BTC-USD?depth=1", "BTC/USD#", 5):
            with pytest.raises(InvalidArgument, match="symbol"):
                public.fetch_order_book(symbol)  # type: ignore[arg-type]
            with pytest.raises(InvalidArgument, match="symbol"):
                public.fetch_trades(symbol)  # type: ignore[arg-type]
        for height in ("../status", "1/../../status", 0, True, None):
            with pytest.raises(InvalidArgument, match="height"):
                public.fetch_light_block(height)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="key must be text"):
            public.fetch_proof(None)  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="height"):
            public.fetch_proof("counters", "../1")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgument, match="since"):
            public.fetch_trades(SYMBOL, since="yesterday")  # type: ignore[arg-type]
        for contract_id in ("../../markets", "ab" * 31 + "/.."):
            with pytest.raises(InvalidOrder, match="id"):
                public.fetch_htlc(contract_id)
            with pytest.raises(InvalidOrder, match="id"):
                public.fetch_deal(contract_id)
        with pytest.raises(InvalidOrder, match="client-<n>"):
            public.fetch_ibc_client("../../markets")
        assert public.fetch_tx("0x" + "00" * 32)["status"] == "unknown"
        assert public.fetch_order_book("btc-usd")["symbol"] == SYMBOL


def test_invalid_side_time_in_force_market_and_order_id_are_refused(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as trader:
        with pytest.raises(InvalidOrder, match="side"):
            trader.create_order(SYMBOL, "limit", "hold", "0.001", "45000")
        with pytest.raises(InvalidOrder, match="timeInForce"):
            trader.create_order(SYMBOL, "limit", "buy", "0.001", "45000", {"timeInForce": "GTX"})
        with pytest.raises(InvalidOrder, match="unknown market 'ETH/USD'"):
            trader.create_order("ETH/USD", "limit", "buy", "0.001", "45000")
        with pytest.raises(InvalidOrder, match="<address>:<nonce>"):
            trader.cancel_order("12")
        with pytest.raises(InvalidOrder, match="another account"):
            trader.cancel_order(f"{'ab' * 20}:1")
        with pytest.raises(ClientError) as unknown:
            trader.fetch_order_book("ETH/USD")
        assert (unknown.value.code, unknown.value.status) == ("unknown_market", 404)


def test_insufficient_funds_is_rejected_with_its_code(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    with client(cluster, key) as trader:
        with pytest.raises(OrderRejected) as rejected:
            trader.create_order(SYMBOL, "limit", "buy", "1000", "45000")  # $45M > $10M
        assert rejected.value.code == "insufficient_funds"
        assert "insufficient_funds" in str(rejected.value)
        # the refused nonce was not consumed: the next order uses it
        assert trader.create_order(SYMBOL, "limit", "buy", "0.0001", "700")["id"].endswith(":0")


def test_a_market_order_with_a_worst_price_takes_liquidity(cluster: LiveCluster) -> None:
    maker_key, taker_key = cluster.fresh_traders(2)
    with client(cluster, maker_key) as maker, client(cluster, taker_key) as taker:
        maker.create_order(SYMBOL, "limit", "sell", "0.0002", "52000")
        order = taker.create_order(SYMBOL, "market", "buy", "0.0005", "52000")
        assert order["type"] == "market" and order["filled"] == "0.0002"
        assert order["status"] == "canceled" and order["remaining"] == "0"  # remainder unfilled


def test_a_market_order_is_never_post_only_or_fill_or_kill(cluster: LiveCluster) -> None:
    """A market order is immediate-or-cancel: post-only or FOK would be silently dropped."""
    maker_key, taker_key = cluster.fresh_traders(2)
    refused: list[tuple[dict[str, object], str]] = [
        ({"postOnly": True}, "post-only"),
        ({"timeInForce": "PO"}, "post-only"),
        ({"timeInForce": "fok"}, "FOK"),
        ({"timeInForce": "GTX"}, "GTX"),
    ]
    with client(cluster, maker_key) as maker, client(cluster, taker_key) as taker:
        maker.create_order(SYMBOL, "limit", "sell", "0.0002", "53000")
        for params, says in refused:
            with pytest.raises(InvalidOrder, match=says):
                taker.create_order(SYMBOL, "market", "buy", "0.0005", "53000", params)
        assert cluster.nonce(taker_key) == 0  # nothing was signed
        order = taker.create_order(
            SYMBOL, "market", "buy", "0.0001", "53000", {"timeInForce": "IOC"}
        )
        assert order["type"] == "market" and order["filled"] == "0.0001"


def test_an_unreachable_node_is_a_client_error(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    with Client("http://127.0.0.1:9", key=key, timeout=1.0) as nowhere:
        with pytest.raises(ClientError) as failed:
            nowhere.fetch_status()
        assert failed.value.code == "unreachable" and "127.0.0.1:9" in str(failed.value)
        with pytest.raises(ClientError, match="cannot reach"):
            nowhere.create_order(SYMBOL, "limit", "buy", "0.0001", "100")


def test_a_client_without_a_key_cannot_trade(cluster: LiveCluster) -> None:
    with client(cluster) as public, pytest.raises(ClientError) as failed:
        public.create_order(SYMBOL, "limit", "buy", "0.0001", "100")
    assert failed.value.code == "no_key"


def test_waiting_past_the_timeout_raises_timed_out(cluster: LiveCluster) -> None:
    with client(cluster) as public, pytest.raises(TimedOut) as late:
        public.wait_for("00" * 32, timeout=0.2)  # a tx that never commits
    assert late.value.code == "timed_out" and "unknown" in str(late.value)


def test_key_files_are_accepted(cluster: LiveCluster) -> None:
    key_file = cluster.testnet.directory / "accounts" / "alice.json"
    with (
        Client(cluster.api_url(), key=key_file) as alice,
        Client(cluster.api_url(), key=str(key_file)) as same,
    ):
        assert alice.address == same.address == cluster.accounts["alice"].address.hex()
        assert Decimal(alice.fetch_balance()["total"]["BTC"]) > 0


def test_an_order_rejected_at_execution_raises_with_its_code(cluster: LiveCluster) -> None:
    maker_key, taker_key = cluster.fresh_traders(2)
    with client(cluster, maker_key) as maker, client(cluster, taker_key) as taker:
        maker.create_order(SYMBOL, "limit", "sell", "0.0002", "65000")
        with pytest.raises(OrderRejected) as crossing:
            taker.create_order(SYMBOL, "limit", "buy", "0.0001", "65000", {"postOnly": True})
        assert crossing.value.code == "post_only_would_cross"
        with pytest.raises(OrderRejected) as unfilled:
            taker.create_order(SYMBOL, "limit", "buy", "0.0003", "65000", {"timeInForce": "FOK"})
        assert unfilled.value.code == "fok_unfilled"
        # both consumed their nonces (they were committed); the next order still goes through
        assert taker.create_order(SYMBOL, "limit", "buy", "0.0001", "100")["id"].endswith(":2")


def test_waiting_for_a_refused_tx_raises_its_code_at_once(cluster: LiveCluster) -> None:
    (key,) = cluster.fresh_traders(1)
    poor = cluster.order_tx(key, 0, Side.SELL, 100, 10**7)  # 1000 BTC; it holds 100
    response = cluster.http.post(f"{cluster.api_url()}/v1/txs", json={"tx": "0x" + poor.hex()})
    refused = response.json()
    assert refused["accepted"] is False
    with client(cluster) as public, pytest.raises(OrderRejected) as rejected:
        public.wait_for(refused["tx_hash"], timeout=30.0)
    assert rejected.value.code == "insufficient_funds"
