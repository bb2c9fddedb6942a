"""What the SDK refuses before it signs or sends anything, and how it says so (no network).

One `ClientError` hierarchy: a key file problem is a `KeyFileError`, which is also the
`ConfigError` older code caught; an order out of the market's range is an `InvalidOrder`
that says "out of range", not a malformed-encoding rejection from the node.
"""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest

from bftx import limits
from bftx.client import (
    AsyncClient,
    Client,
    ClientError,
    InvalidArgument,
    InvalidOrder,
    KeyFileError,
    NetworkError,
    core,
    url_from_testnet,
)
from bftx.client.keys import account_key_file, load_key_file
from bftx.crypto import KeyPair, save_key
from bftx.errors import ConfigError

MARKET = core.MarketInfo(
    symbol="BTC/USD",
    base="BTC",
    quote="USD",
    tick=Decimal("0.01"),
    lot=Decimal("0.0001"),
    min_size=Decimal("0.0001"),
)


@pytest.fixture(autouse=True)
def empty_book() -> None:
    """These tests need no cluster: replace the directory's autouse fixture that empties its book."""


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "alice.json"
    save_key(path, KeyPair.generate())
    return path


def test_a_missing_key_file_is_a_client_error_and_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        Client("http://127.0.0.1:1", key=tmp_path / "absent.json")
    assert isinstance(caught.value, ClientError) and isinstance(caught.value, ConfigError)
    assert caught.value.code == "key_file_missing"
    assert "no such key file" in str(caught.value) and "bftx keys generate" in str(caught.value)


def test_a_file_that_is_not_a_key_says_so_and_never_advises_chmod(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# a project\n\nSome text.\n")
    os.chmod(readme, 0o644)  # readable by everyone, like any document
    with pytest.raises(KeyFileError) as caught:
        load_key_file(readme)
    assert caught.value.code == "not_a_key_file"
    assert "not a bftx key file" in str(caught.value) and "chmod" not in str(caught.value)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="is a directory"):
        load_key_file(tmp_path)


def test_a_real_key_readable_by_others_advises_chmod_600(key_file: Path) -> None:
    os.chmod(key_file, 0o644)
    with pytest.raises(KeyFileError) as caught:
        load_key_file(key_file)
    assert caught.value.code == "key_file_too_open" and f"chmod 600 {key_file}" in str(caught.value)


def test_a_key_whose_public_key_does_not_match_its_seed_is_refused(key_file: Path) -> None:
    document = json.loads(key_file.read_text())
    document["public_key"] = KeyPair.generate().public_key.hex()
    key_file.chmod(0o600)
    key_file.write_text(json.dumps(document))
    with pytest.raises(KeyFileError, match="does not match"):
        load_key_file(key_file)


def test_a_good_key_file_loads(key_file: Path) -> None:
    assert len(load_key_file(key_file).address) == 20


def test_an_amount_beyond_the_largest_order_is_out_of_range_before_signing() -> None:
    with pytest.raises(InvalidOrder) as caught:
        core.order_body(MARKET, "limit", "buy", "1e12", "45000", {})
    message = str(caught.value)
    assert "out of range" in message and "BTC/USD" in message and "429496.7296 BTC" in message


def test_the_largest_order_and_price_are_accepted_and_one_step_more_is_not() -> None:
    largest = MARKET.lot * limits.quantity_lots_max
    highest = MARKET.tick * limits.price_ticks_max
    order = core.order_body(MARKET, "limit", "buy", largest, highest, {})
    assert order.quantity_lots == limits.quantity_lots_max
    assert order.price_ticks == limits.price_ticks_max
    with pytest.raises(InvalidOrder, match="out of range"):
        MARKET.to_lots(largest + MARKET.lot)
    with pytest.raises(InvalidOrder, match="out of range"):
        MARKET.to_ticks(highest + MARKET.tick)


@pytest.mark.parametrize(
    ("amount", "price", "expected"),
    [
        ("0.00005", "45000", "not a multiple of the lot 0.0001 BTC"),
        ("1", "45000.001", "not a multiple of the tick 0.01 USD"),
        ("0", "45000", "amount 0 is not a positive multiple of the lot"),
        ("1", "-5", "price -5 is not a positive multiple of the tick"),
        ("lots", "45000", "not a number"),
        ("NaN", "45000", "not finite"),
        ("1", "1e40", "out of range"),
    ],
)
def test_bad_amounts_and_prices_are_refused_with_the_reason(
    amount: str, price: str, expected: str
) -> None:
    with pytest.raises(InvalidOrder, match=expected):
        core.order_body(MARKET, "limit", "buy", amount, price, {})


def test_below_the_minimum_size_names_the_minimum() -> None:
    market = core.MarketInfo(
        "BTC/USD", "BTC", "USD", Decimal("0.01"), Decimal("0.0001"), Decimal("0.01")
    )
    with pytest.raises(InvalidOrder, match=r"below the minimum size 0\.01 BTC"):
        market.to_lots("0.005")


def test_balance_total_has_the_same_decimals_as_free_and_used() -> None:
    balance = core.balance_from_account(
        {"balances": [{"asset": "BTC", "available": "1.50000000", "locked": "0.25000000"}]}
    )
    assert balance["BTC"] == {"free": "1.50000000", "used": "0.25000000", "total": "1.75000000"}
    assert balance["total"]["BTC"] == "1.75000000"


def test_an_unreachable_node_is_a_network_error_that_asks_whether_it_runs() -> None:
    with Client("http://127.0.0.1:9", timeout=2) as client, pytest.raises(NetworkError) as caught:
        client.fetch_status()
    assert caught.value.code == "unreachable" and "is a node running there?" in str(caught.value)


def test_testnet_helpers_explain_a_directory_that_is_not_a_testnet(tmp_path: Path) -> None:
    with pytest.raises(ClientError, match=r"is .* a testnet directory") as caught:
        url_from_testnet(tmp_path)
    assert caught.value.code == "bad_testnet"
    (tmp_path / "accounts").mkdir()
    save_key(tmp_path / "accounts" / "alice.json", KeyPair.generate())
    with pytest.raises(KeyFileError, match=r"accounts: alice"):
        account_key_file(tmp_path, "carol")
    assert account_key_file(tmp_path, "alice").name == "alice.json"


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_constructor_misuse_is_an_invalid_argument_with_the_reason(
    client_class: type[Client] | type[AsyncClient], key_file: Path
) -> None:
    """Not httpx.InvalidURL, ValueError or TypeError: one SDK error, code invalid_argument."""
    url = "http://127.0.0.1:8700"
    misuses: list[tuple[tuple[object, ...], dict[str, object], str]] = [
        (("http://[::1",), {}, "is not a URL"),
        (("ftp://127.0.0.1:8700",), {}, "http"),
        (("http://",), {}, "http"),
        (("127.0.0.1:8700",), {}, "http"),
        (("http://127.0.0.1:99999",), {}, "http"),
        (("http://127.0.0.1:8700/?debug=1",), {}, "http"),
        ((None,), {}, "url must be text"),
        ((url,), {"timeout": -1}, "timeout"),
        ((url,), {"timeout": 0}, "timeout"),
        ((url,), {"timeout": float("nan")}, "timeout"),
        ((url,), {"timeout": "10"}, "timeout"),
        ((url,), {"key": 123}, "key must be a KeyPair or the path of a key file"),
        ((url,), {"key": b"seed"}, "key must be"),
        ((url,), {"wait": "no"}, "wait"),
    ]
    for arguments, options, says in misuses:
        with pytest.raises(InvalidArgument, match=says) as refused:
            client_class(*arguments, **options)  # type: ignore[arg-type]
        assert refused.value.code == "invalid_argument"
    fine = client_class("http://[::1]:8700/", key=key_file, timeout=3)
    assert fine.url == "http://[::1]:8700" and fine.timeout == 3.0
    closing = fine.close()
    if closing is not None:  # AsyncClient.close is a coroutine
        asyncio.run(closing)
