"""Genesis parsing: a document that cannot be used raises `ConfigError` naming the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from bftx import limits
from bftx.errors import ConfigError
from bftx.exchange import Exchange, ExchangeGenesis

from .support import ALICE, BOB, FEES, make_genesis


def document() -> dict[str, Any]:
    return make_genesis([ALICE, BOB]).to_document()


def edited(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    changed = copy.deepcopy(document())
    edit(changed)
    return changed


def error_of(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        ExchangeGenesis.from_document(doc)
    return str(caught.value)


def test_genesis_round_trips_through_its_document() -> None:
    genesis = make_genesis([ALICE, BOB])
    assert ExchangeGenesis.from_document(genesis.to_document()) == genesis


def test_market_with_unknown_base_asset_names_the_field() -> None:
    doc = edited(lambda d: d["markets"][1].update(base="DOGE"))
    message = error_of(doc)
    assert "genesis.markets[1].base" in message and "DOGE" in message


def test_market_with_unknown_quote_asset_names_the_field() -> None:
    message = error_of(edited(lambda d: d["markets"][0].update(quote="EUR")))
    assert "genesis.markets[0].quote" in message and "EUR" in message


def test_market_with_equal_base_and_quote_is_rejected() -> None:
    assert "genesis.markets[0]" in error_of(edited(lambda d: d["markets"][0].update(quote="BTC")))


def test_duplicate_asset_symbols_are_rejected() -> None:
    def duplicate(d: dict[str, Any]) -> None:
        d["assets"].append(dict(d["assets"][0], decimals=2))

    assert "genesis.assets" in error_of(edited(duplicate))


def test_duplicate_market_symbols_are_rejected() -> None:
    def duplicate(d: dict[str, Any]) -> None:
        d["markets"].append(dict(d["markets"][0]))

    assert "genesis.markets" in error_of(edited(duplicate))


def test_duplicate_account_addresses_are_rejected_even_when_spelled_differently() -> None:
    def duplicate(d: dict[str, Any]) -> None:
        account = dict(d["accounts"][0])
        account["address"] = "0x" + account["address"].upper()
        d["accounts"].append(account)

    assert "genesis.accounts" in error_of(edited(duplicate))


@pytest.mark.parametrize(
    "address",
    ["", "zz" * 20, "ab" * 19, "ab" * 21, 12345, None],
    ids=["empty", "not-hex", "short", "long", "number", "missing"],
)
def test_bad_account_address_names_the_field(address: object) -> None:
    message = error_of(edited(lambda d: d["accounts"][1].update(address=address)))
    assert "genesis.accounts[1].address" in message


def test_bad_fee_account_names_the_field() -> None:
    message = error_of(edited(lambda d: d["markets"][0].update(fee_account="0x1234")))
    assert "genesis.markets[0].fee_account" in message


def test_bad_issuer_and_registrar_addresses_name_the_field() -> None:
    assert "genesis.assets[2].issuers[0]" in error_of(
        edited(lambda d: d["assets"][2].update(issuers=["nope"]))
    )
    assert "genesis.registrars[0]" in error_of(edited(lambda d: d.update(registrars=["00"])))


@pytest.mark.parametrize("field", ["maker_fee_bps", "taker_fee_bps"])
def test_fee_over_the_limit_names_the_field(field: str) -> None:
    message = error_of(edited(lambda d: d["markets"][0].update({field: limits.fee_bps_max + 1})))
    assert f"genesis.markets[0].{field}" in message
    ExchangeGenesis.from_document(
        edited(lambda d: d["markets"][0].update({field: limits.fee_bps_max}))
    )


def test_negative_fee_is_rejected() -> None:
    message = error_of(edited(lambda d: d["markets"][0].update(maker_fee_bps=-1)))
    assert "genesis.markets[0].maker_fee_bps" in message


def test_initial_balances_over_supply_max_are_rejected() -> None:
    """Two accounts of 100 BTC each against a supply_max of 150 BTC."""
    doc = edited(lambda d: d["assets"][0].update(supply_max=150 * 10**8))
    message = error_of(doc)
    assert "BTC" in message and "supply_max" in message


def test_initial_balances_equal_to_supply_max_are_accepted() -> None:
    genesis = ExchangeGenesis.from_document(
        edited(lambda d: d["assets"][0].update(supply_max=200 * 10**8))
    )
    assert genesis.assets[0].supply_max == 200 * 10**8


def test_balance_in_an_unknown_asset_names_the_account() -> None:
    message = error_of(edited(lambda d: d["accounts"][0]["balances"].update(DOGE="1")))
    assert "genesis.accounts[0].balances" in message and "DOGE" in message


@pytest.mark.parametrize(
    "amount", [-1, 1.5, "1.5", "-3", True, limits.amount_max + 1, "", " 7"], ids=repr
)
def test_bad_balance_amount_names_the_field(amount: object) -> None:
    message = error_of(edited(lambda d: d["accounts"][0]["balances"].update(BTC=amount)))
    assert "genesis.accounts[0].balances.BTC" in message


@pytest.mark.parametrize("amount", ["²", "٣", "1²"], ids=["superscript", "arabic-indic", "mixed"])
def test_amount_with_non_ascii_digits_is_a_config_error(amount: str) -> None:
    """``str.isdigit`` accepts superscripts and other scripts' digits; ``int`` then fails or
    silently reads another script. Only ASCII decimal strings are amounts."""
    message = error_of(edited(lambda d: d["accounts"][0]["balances"].update(BTC=amount)))
    assert "genesis.accounts[0].balances.BTC" in message


def test_decimal_string_amounts_are_accepted() -> None:
    genesis = ExchangeGenesis.from_document(
        edited(lambda d: d["accounts"][0]["balances"].update(BTC=str(limits.amount_max - 10**10)))
    )
    assert dict(genesis.accounts[0].balances)["BTC"] == limits.amount_max - 10**10


@pytest.mark.parametrize(
    ("field", "value"),
    [("tick_size", 0), ("lot_size", 0), ("min_lots", 0), ("tick_size", limits.tick_size_max + 1)],
)
def test_bad_market_sizes_name_the_field(field: str, value: int) -> None:
    assert f"genesis.markets[0].{field}" in error_of(
        edited(lambda d: d["markets"][0].update({field: value}))
    )


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: d.pop("chain_id"), "genesis.chain_id"),
        (lambda d: d.update(chain_id=""), "genesis.chain_id"),
        (lambda d: d.update(chain_id="x" * (limits.chain_id_bytes_max + 1)), "genesis.chain_id"),
        (lambda d: d.update(access="closed"), "genesis.access"),
        (lambda d: d.pop("assets"), "genesis.assets"),
        (lambda d: d.update(markets={}), "genesis.markets"),
        (lambda d: d["assets"][0].update(symbol="BTC/X"), "genesis.assets[0].symbol"),
        (lambda d: d["assets"][0].update(decimals=19), "genesis.assets[0].decimals"),
        (lambda d: d["assets"][0].update(supply_max=0), "genesis.assets[0].supply_max"),
        (lambda d: d["accounts"][0].update(balances=[1]), "genesis.accounts[0].balances"),
        (lambda d: d["markets"].append("BTC/USD"), "genesis.markets[2]"),
    ],
    ids=[
        "missing-chain-id",
        "empty-chain-id",
        "long-chain-id",
        "bad-access",
        "missing-assets",
        "markets-not-a-list",
        "slash-in-symbol",
        "decimals",
        "zero-supply",
        "balances-not-an-object",
        "market-not-an-object",
    ],
)
def test_malformed_documents_name_the_field(
    edit: Callable[[dict[str, Any]], object], where: str
) -> None:
    assert where in error_of(edited(edit))


def test_genesis_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(ConfigError):
        ExchangeGenesis.from_document([])  # type: ignore[arg-type]


def test_genesis_accounts_start_with_their_balances_and_supplies() -> None:
    exchange = Exchange(make_genesis([ALICE, BOB], btc=7, usd=9))
    assert exchange.balances(ALICE.address)["BTC"].available == 7
    assert exchange.state.minted == {"BTC": 14, "USD": 18, "ETH": 14}
    assert exchange.balances(FEES.address) == {}
    assert exchange.height == 0
