"""Fees and rounding: charged in what each side receives, rounded up, never creating value.

BTC/USD: a lot is 10_000 satoshi, one tick is 1 USD unit per lot.
ETH/BTC: a lot is 1_000_000 ETH units, one tick is 1 satoshi per lot.
"""

from __future__ import annotations

from bftx.errors import Code
from bftx.exchange import OrderType, Side, Trade, Transfer
from bftx.exchange.invariants import find_conservation_violations

from .support import ALICE, BOB, BTC_LOT, CAROL, FEES, World

BTC0 = 100 * 10**8
USD0 = 10_000_000 * 10**6
ETH0 = BTC0


def fee_world(maker_bps: int = 10, taker_bps: int = 20) -> World:
    return World.create([ALICE, BOB, CAROL], maker_fee_bps=maker_bps, taker_fee_bps=taker_bps)


def only_trade(events: tuple[object, ...]) -> Trade:
    (trade,) = [event for event in events if isinstance(event, Trade)]
    return trade


def test_taker_buyer_pays_taker_fee_in_base_and_maker_seller_pays_in_quote() -> None:
    w = fee_world(maker_bps=10, taker_bps=20)
    w.order(BOB, Side.SELL, 1_000, 10)  # maker
    receipt = w.place(ALICE, Side.BUY, 1_000, 10)  # taker
    base_units, quote_units = 10 * BTC_LOT, 10 * 1_000
    taker_fee = base_units * 20 // 10_000  # 200 satoshi, exact
    maker_fee = quote_units * 10 // 10_000  # 10 USD units, exact
    trade = only_trade(receipt.events)
    assert (trade.taker_fee, trade.maker_fee) == (taker_fee, maker_fee)
    assert w.available(ALICE, "BTC") == BTC0 + base_units - taker_fee
    assert w.available(ALICE, "USD") == USD0 - quote_units
    assert w.available(BOB, "USD") == USD0 + quote_units - maker_fee
    assert w.available(BOB, "BTC") == BTC0 - base_units
    assert set(w.exchange.balances(FEES.address)) == {"BTC", "USD"}
    assert w.available(FEES, "BTC") == taker_fee
    assert w.available(FEES, "USD") == maker_fee


def test_taker_seller_pays_taker_fee_in_quote_and_maker_buyer_pays_in_base() -> None:
    w = fee_world(maker_bps=10, taker_bps=20)
    w.order(BOB, Side.BUY, 1_000, 10)
    receipt = w.place(ALICE, Side.SELL, 1_000, 10)
    trade = only_trade(receipt.events)
    assert trade.taker_fee == 10_000 * 20 // 10_000  # in USD, what the seller receives
    assert trade.maker_fee == 10 * BTC_LOT * 10 // 10_000  # in BTC, what the buyer receives
    assert w.available(ALICE, "USD") == USD0 + 10_000 - trade.taker_fee
    assert w.available(BOB, "BTC") == BTC0 + 10 * BTC_LOT - trade.maker_fee
    assert w.available(FEES, "USD") == trade.taker_fee
    assert w.available(FEES, "BTC") == trade.maker_fee


def test_fee_is_rounded_up_in_the_exchanges_favour() -> None:
    w = fee_world(maker_bps=7, taker_bps=13)
    w.order(BOB, Side.SELL, 1_237, 3)
    receipt = w.place(ALICE, Side.BUY, 1_237, 3)
    quote_units, base_units = 3 * 1_237, 3 * BTC_LOT
    trade = only_trade(receipt.events)
    # 3711 * 7 / 10_000 = 2.5977 -> 3 ; 30_000 * 13 / 10_000 = 39 exactly
    assert trade.maker_fee == 3
    assert trade.taker_fee == 39
    assert w.available(BOB, "USD") == USD0 + quote_units - 3
    assert w.available(ALICE, "BTC") == BTC0 + base_units - 39


def test_tiny_trade_fee_rounds_up_to_one_unit_without_creating_value() -> None:
    """1 lot of ETH at 1 tick is worth 1 satoshi: a 10 bps fee takes all of it."""
    w = fee_world(maker_bps=10, taker_bps=10)
    w.order(BOB, Side.SELL, 1, 1, market="ETH/BTC")
    receipt = w.place(ALICE, Side.BUY, 1, 1, market="ETH/BTC")
    trade = only_trade(receipt.events)
    assert trade.maker_fee == 1  # ceil(1 * 10 / 10_000)
    assert trade.taker_fee == 1_000  # 1_000_000 * 10 / 10_000 exactly
    assert w.available(BOB, "BTC") == BTC0  # received 1 satoshi, paid 1 in fees
    assert w.available(BOB, "ETH") == ETH0 - 1_000_000
    assert w.available(ALICE, "BTC") == BTC0 - 1
    assert w.available(ALICE, "ETH") == ETH0 + 1_000_000 - 1_000
    assert w.available(FEES, "BTC") == 1
    assert w.available(FEES, "ETH") == 1_000
    assert find_conservation_violations(w.exchange.state) == []


def test_fees_are_rounded_per_fill_not_per_order() -> None:
    """Each fill is settled on its own: three 1-satoshi fills pay three 1-satoshi fees."""
    w = fee_world(maker_bps=1, taker_bps=1)
    for seller in (BOB, CAROL, BOB):
        w.order(seller, Side.SELL, 1, 1, market="ETH/BTC")
    receipt = w.place(ALICE, Side.BUY, 1, 3, market="ETH/BTC")
    trades = [event for event in receipt.events if isinstance(event, Trade)]
    assert [t.maker_fee for t in trades] == [1, 1, 1]
    assert w.available(FEES, "BTC") == 3


def test_maker_and_taker_rates_follow_the_role_not_the_side() -> None:
    w = fee_world(maker_bps=0, taker_bps=100)
    w.order(BOB, Side.BUY, 1_000, 1)
    sold = only_trade(w.place(ALICE, Side.SELL, 1_000, 1).events)
    assert (sold.maker_fee, sold.taker_fee) == (0, 10)
    w.order(BOB, Side.SELL, 1_000, 1)
    bought = only_trade(w.place(ALICE, Side.BUY, 1_000, 1).events)
    assert (bought.maker_fee, bought.taker_fee) == (0, 100)


def test_zero_fee_market_charges_nothing() -> None:
    w = fee_world(maker_bps=0, taker_bps=0)
    w.order(BOB, Side.SELL, 1_000, 10)
    trade = only_trade(w.place(ALICE, Side.BUY, 1_000, 10).events)
    assert (trade.maker_fee, trade.taker_fee) == (0, 0)
    assert w.exchange.balances(FEES.address) == {}


def test_maximum_fee_never_exceeds_what_is_received() -> None:
    w = fee_world(maker_bps=1_000, taker_bps=1_000)
    w.order(BOB, Side.SELL, 1, 1, market="ETH/BTC")
    trade = only_trade(w.place(ALICE, Side.BUY, 1, 1, market="ETH/BTC").events)
    assert trade.maker_fee == 1  # all of the 1 satoshi received, never more
    assert w.available(BOB, "BTC") == BTC0


def test_buyer_whose_limit_is_above_the_fill_price_gets_the_difference_unlocked() -> None:
    w = fee_world(maker_bps=0, taker_bps=0)
    w.order(BOB, Side.SELL, 90, 2)
    w.place(ALICE, Side.BUY, 100, 2)
    assert w.locked(ALICE, "USD") == 0
    assert w.available(ALICE, "USD") == USD0 - 180


def test_buyer_resting_remainder_stays_locked_at_its_own_limit() -> None:
    w = fee_world(maker_bps=0, taker_bps=0)
    w.order(BOB, Side.SELL, 90, 2)
    w.order(CAROL, Side.SELL, 95, 1)
    w.place(ALICE, Side.BUY, 100, 5)
    assert w.locked(ALICE, "USD") == 2 * 100
    assert w.available(ALICE, "USD") == USD0 - 180 - 95 - 200


def test_market_buy_unlocks_the_gap_to_its_worst_price() -> None:
    w = fee_world(maker_bps=0, taker_bps=0)
    w.order(BOB, Side.SELL, 90, 2)
    w.place(ALICE, Side.BUY, 500, 2, OrderType.MARKET)
    assert w.locked(ALICE, "USD") == 0
    assert w.available(ALICE, "USD") == USD0 - 180


def test_seller_receives_the_better_bid_price() -> None:
    w = fee_world(maker_bps=0, taker_bps=0)
    w.order(BOB, Side.BUY, 120, 2)
    w.place(ALICE, Side.SELL, 100, 2)
    assert w.available(ALICE, "USD") == USD0 + 240


def test_fee_account_collects_across_markets() -> None:
    w = fee_world(maker_bps=10, taker_bps=10)
    w.order(BOB, Side.SELL, 1_000, 10)
    w.order(ALICE, Side.BUY, 1_000, 10)
    w.order(BOB, Side.SELL, 500, 10, market="ETH/BTC")
    w.order(ALICE, Side.BUY, 500, 10, market="ETH/BTC")
    balances = w.exchange.balances(FEES.address)
    assert balances["USD"].available == 10
    assert balances["BTC"].available == 100 + 5  # BTC/USD taker fee + ETH/BTC maker fee
    assert balances["ETH"].available == 10_000


def test_fee_account_can_spend_what_it_collected() -> None:
    w = fee_world(maker_bps=10, taker_bps=10)
    w.order(BOB, Side.SELL, 1_000, 10)
    w.order(ALICE, Side.BUY, 1_000, 10)
    assert w.run(FEES, Transfer("USD", BOB.address, 10)) is Code.OK
    assert w.available(FEES, "USD") == 0


def test_fee_account_trading_itself_pays_and_collects_its_own_fees() -> None:
    """The fee account may trade: its fee and its receipt land in the same balance."""
    w = World.create([ALICE, BOB, FEES], maker_fee_bps=10, taker_fee_bps=20)
    w.order(FEES, Side.SELL, 1_000, 10)  # maker
    taker = only_trade(w.place(ALICE, Side.BUY, 1_000, 10).events)
    assert w.available(FEES, "USD") == USD0 + 10_000  # received 10_000, paid 10 to itself
    assert w.available(FEES, "BTC") == BTC0 - 10 * BTC_LOT + taker.taker_fee
    w.order(BOB, Side.BUY, 1_000, 5)
    w.order(FEES, Side.SELL, 1_000, 5)  # taker: its taker fee (USD) is paid to itself
    assert w.available(FEES, "USD") == USD0 + 15_000
    bob_maker_fee = 5 * BTC_LOT * 10 // 10_000  # in BTC, what Bob receives
    assert w.available(FEES, "BTC") == BTC0 - 15 * BTC_LOT + taker.taker_fee + bob_maker_fee
    assert find_conservation_violations(w.exchange.state) == []
