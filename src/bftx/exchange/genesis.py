"""The exchange's genesis: chain id, assets, markets, accounts, issuers, registrars, access mode.

`ExchangeGenesis.from_document` turns a JSON-shaped document into checked,
frozen records and raises `ConfigError` naming the field that is wrong. The
genesis is the only place where markets and assets are defined: there is no
transaction that adds one.

Units. Balances are integers in an asset's smallest unit (``decimals`` places).
A market trades whole *lots* of the base asset (``lot_size`` base units each)
at prices counted in *ticks*; one tick is ``tick_size`` quote units per lot.
So ``quantity_lots * lot_size`` base units cost
``quantity_lots * price_ticks * tick_size`` quote units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bftx import crypto, limits
from bftx.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str
    decimals: int
    issuers: tuple[bytes, ...]
    supply_max: int


@dataclass(frozen=True, slots=True)
class Market:
    symbol: str
    base: str
    quote: str
    tick_size: int
    lot_size: int
    min_lots: int
    maker_fee_bps: int
    taker_fee_bps: int
    fee_account: bytes


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    address: bytes
    balances: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class ExchangeGenesis:
    chain_id: str
    permissioned: bool
    assets: tuple[Asset, ...]
    markets: tuple[Market, ...]
    accounts: tuple[GenesisAccount, ...]
    registrars: tuple[bytes, ...]

    @staticmethod
    def from_document(document: Mapping[str, Any]) -> ExchangeGenesis:
        return _parse_genesis(document)

    def to_document(self) -> dict[str, Any]:
        """The JSON-shaped document `from_document` reads back to an equal genesis."""
        return {
            "chain_id": self.chain_id,
            "access": "permissioned" if self.permissioned else "open",
            "assets": [
                {
                    "symbol": asset.symbol,
                    "decimals": asset.decimals,
                    "issuers": [issuer.hex() for issuer in asset.issuers],
                    "supply_max": str(asset.supply_max),
                }
                for asset in self.assets
            ],
            "markets": [
                {
                    "symbol": market.symbol,
                    "base": market.base,
                    "quote": market.quote,
                    "tick_size": market.tick_size,
                    "lot_size": market.lot_size,
                    "min_lots": market.min_lots,
                    "maker_fee_bps": market.maker_fee_bps,
                    "taker_fee_bps": market.taker_fee_bps,
                    "fee_account": market.fee_account.hex(),
                }
                for market in self.markets
            ],
            "accounts": [
                {
                    "address": account.address.hex(),
                    "balances": {symbol: str(amount) for symbol, amount in account.balances},
                }
                for account in self.accounts
            ],
            "registrars": [registrar.hex() for registrar in self.registrars],
        }


def _parse_genesis(document: Mapping[str, Any]) -> ExchangeGenesis:
    if not isinstance(document, Mapping):
        raise ConfigError("genesis: expected an object")
    chain_id = _string(document, "chain_id", "genesis", limits.chain_id_bytes_max)
    access = document.get("access", "permissioned")
    if access not in ("permissioned", "open"):
        raise ConfigError('genesis.access: expected "permissioned" or "open"')
    assets = tuple(
        _parse_asset(item, f"genesis.assets[{index}]")
        for index, item in enumerate(_list(document, "assets", "genesis", limits.assets_max))
    )
    symbols = [asset.symbol for asset in assets]
    if len(set(symbols)) != len(symbols):
        raise ConfigError("genesis.assets: asset symbols must be unique")
    markets = tuple(
        _parse_market(item, f"genesis.markets[{index}]", set(symbols))
        for index, item in enumerate(_list(document, "markets", "genesis", limits.markets_max))
    )
    if len({market.symbol for market in markets}) != len(markets):
        raise ConfigError("genesis.markets: market symbols must be unique")
    accounts = tuple(
        _parse_account(item, f"genesis.accounts[{index}]", set(symbols))
        for index, item in enumerate(_list(document, "accounts", "genesis", 1_000_000))
    )
    if len({account.address for account in accounts}) != len(accounts):
        raise ConfigError("genesis.accounts: each address may appear once")
    registrars = tuple(
        _address(item, f"genesis.registrars[{index}]")
        for index, item in enumerate(_list(document, "registrars", "genesis", 1_000, default=[]))
    )
    for asset in assets:
        total = sum(
            amount
            for account in accounts
            for symbol, amount in account.balances
            if symbol == asset.symbol
        )
        if total > asset.supply_max:
            raise ConfigError(f"genesis: initial {asset.symbol} balances exceed its supply_max")
    return ExchangeGenesis(
        chain_id=chain_id,
        permissioned=access == "permissioned",
        assets=assets,
        markets=markets,
        accounts=accounts,
        registrars=registrars,
    )


def _parse_asset(item: Any, where: str) -> Asset:
    _object(item, where)
    symbol = _string(item, "symbol", where, limits.symbol_bytes_max)
    if "/" in symbol or not symbol:
        raise ConfigError(f"{where}.symbol: must be non-empty and contain no '/'")
    return Asset(
        symbol=symbol,
        decimals=_integer(item, "decimals", where, 0, 18),
        issuers=tuple(
            _address(issuer, f"{where}.issuers[{index}]")
            for index, issuer in enumerate(_list(item, "issuers", where, 64, default=[]))
        ),
        supply_max=_integer(
            item, "supply_max", where, 1, limits.amount_max, default=limits.amount_max
        ),
    )


def _parse_market(item: Any, where: str, assets: set[str]) -> Market:
    _object(item, where)
    base = _string(item, "base", where, limits.symbol_bytes_max)
    quote = _string(item, "quote", where, limits.symbol_bytes_max)
    for field, symbol in (("base", base), ("quote", quote)):
        if symbol not in assets:
            raise ConfigError(f"{where}.{field}: unknown asset {symbol!r}")
    if base == quote:
        raise ConfigError(f"{where}: base and quote must differ")
    market = Market(
        symbol=_string(
            item, "symbol", where, 2 * limits.symbol_bytes_max + 1, default=f"{base}/{quote}"
        ),
        base=base,
        quote=quote,
        tick_size=_integer(item, "tick_size", where, 1, limits.tick_size_max),
        lot_size=_integer(item, "lot_size", where, 1, limits.lot_size_max),
        min_lots=_integer(item, "min_lots", where, 1, limits.quantity_lots_max, default=1),
        maker_fee_bps=_integer(item, "maker_fee_bps", where, 0, limits.fee_bps_max, default=0),
        taker_fee_bps=_integer(item, "taker_fee_bps", where, 0, limits.fee_bps_max, default=0),
        fee_account=_address(item.get("fee_account"), f"{where}.fee_account"),
    )
    return market


def _parse_account(item: Any, where: str, assets: set[str]) -> GenesisAccount:
    _object(item, where)
    balances = item.get("balances", {})
    if not isinstance(balances, Mapping):
        raise ConfigError(f"{where}.balances: expected an object of symbol -> amount")
    parsed = []
    for symbol in sorted(balances):
        if symbol not in assets:
            raise ConfigError(f"{where}.balances: unknown asset {symbol!r}")
        parsed.append(
            (symbol, _integer(balances, symbol, f"{where}.balances", 0, limits.amount_max))
        )
    return GenesisAccount(
        address=_address(item.get("address"), f"{where}.address"), balances=tuple(parsed)
    )


# --- field readers -------------------------------------------------------------

_MISSING = object()


def _object(item: Any, where: str) -> None:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where}: expected an object")


def _list(
    item: Mapping[str, Any], key: str, where: str, max_items: int, default: Any = _MISSING
) -> list[Any]:
    value = item.get(key, default)
    if value is _MISSING:
        raise ConfigError(f"{where}.{key}: missing")
    if not isinstance(value, list):
        raise ConfigError(f"{where}.{key}: expected a list")
    if len(value) > max_items:
        raise ConfigError(f"{where}.{key}: more than {max_items} items")
    return value


def _string(
    item: Mapping[str, Any], key: str, where: str, max_bytes: int, default: Any = _MISSING
) -> str:
    value = item.get(key, default)
    if value is _MISSING:
        raise ConfigError(f"{where}.{key}: missing")
    if not isinstance(value, str) or not value or len(value.encode()) > max_bytes:
        raise ConfigError(
            f"{where}.{key}: expected a non-empty string of at most {max_bytes} bytes"
        )
    return value


def _integer(
    item: Mapping[str, Any], key: str, where: str, low: int, high: int, default: Any = _MISSING
) -> int:
    """An integer field; decimal strings are accepted so large amounts survive JSON tools."""
    value = item.get(key, default)
    if value is _MISSING:
        raise ConfigError(f"{where}.{key}: missing")
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{where}.{key}: expected an integer in [{low}, {high}], got {value!r}")
    return value


def _address(value: Any, where: str) -> bytes:
    if isinstance(value, str):
        text = value.removeprefix("0x")
        try:
            address = bytes.fromhex(text)
        except ValueError:
            address = b""
        if len(address) == crypto.ADDRESS_BYTES:
            return address
    raise ConfigError(f"{where}: expected a {crypto.ADDRESS_BYTES}-byte address in hex")
