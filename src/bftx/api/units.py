"""Integers inside, decimal strings at the edge (DESIGN.md section 3)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bftx.exchange.genesis import Asset, Market


class UnitError(ValueError):
    """A decimal string that is not a valid amount, price or size for the asset or market."""


def format_amount(amount: int, decimals: int) -> str:
    """``123456789, 8`` -> ``"1.23456789"``."""
    sign = "-" if amount < 0 else ""
    digits = str(abs(amount)).rjust(decimals + 1, "0")
    if decimals == 0:
        return sign + digits
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def parse_amount(text: str, decimals: int) -> int:
    value = _decimal(text)
    units = value.scaleb(decimals)
    if units != units.to_integral_value() or units < 0:
        raise UnitError(f"{text!r} is not a non-negative amount with at most {decimals} decimals")
    return int(units)


def price_scale(market: Market, base: Asset, quote: Asset) -> Decimal:
    """Quote units (whole, human) per whole base unit for one tick."""
    return (
        Decimal(market.tick_size)
        / Decimal(market.lot_size)
        * Decimal(10) ** (base.decimals - quote.decimals)
    )


def format_price(ticks: int, market: Market, base: Asset, quote: Asset) -> str:
    return _plain(Decimal(ticks) * price_scale(market, base, quote))


def parse_price(text: str, market: Market, base: Asset, quote: Asset) -> int:
    ticks = _decimal(text) / price_scale(market, base, quote)
    if ticks != ticks.to_integral_value() or ticks <= 0:
        raise UnitError(
            f"price {text!r} is not a positive multiple of the tick {format_price(1, market, base, quote)}"
        )
    return int(ticks)


def format_size(lots: int, market: Market, base: Asset) -> str:
    return format_amount(lots * market.lot_size, base.decimals)


def parse_size(text: str, market: Market, base: Asset) -> int:
    units = parse_amount(text, base.decimals)
    if units % market.lot_size or units == 0:
        raise UnitError(
            f"size {text!r} is not a positive multiple of the lot {format_size(1, market, base)}"
        )
    return units // market.lot_size


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError) as error:
        raise UnitError(f"{text!r} is not a decimal number") from error
    if not value.is_finite():
        raise UnitError(f"{text!r} is not a finite number")
    return value


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text
