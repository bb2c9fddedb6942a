"""Integers inside, decimal strings at the edge (DESIGN.md section 3): the API's output side.

Parsing decimal input lives in the SDK (`bftx.client.core.MarketInfo`), which builds txs."""

from __future__ import annotations

from decimal import Decimal

from bftx.exchange.genesis import Asset, Market


def format_amount(amount: int, decimals: int) -> str:
    """``123456789, 8`` -> ``"1.23456789"``."""
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(decimals + 1, "0")
    if decimals == 0:
        return sign + digits
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def price_scale(market: Market, base: Asset, quote: Asset) -> Decimal:
    """Quote units (whole, human) per whole base unit for one tick."""
    return (
        Decimal(market.tick_size)
        / Decimal(market.lot_size)
        * Decimal(10) ** (base.decimals - quote.decimals)
    )


def format_price(ticks: int, market: Market, base: Asset, quote: Asset) -> str:
    return _plain(Decimal(ticks) * price_scale(market, base, quote))


def format_size(lots: int, market: Market, base: Asset) -> str:
    return format_amount(lots * market.lot_size, base.decimals)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
