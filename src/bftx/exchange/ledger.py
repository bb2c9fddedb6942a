"""The ledger: the only code that changes a balance (Cosmos SDK's ``x/bank`` role).

Owns the five mutations of ``[available, locked]`` balances (`increase`,
`decrease`, `lock`, `unlock`, `move`), the delivery-versus-payment of one
order-book fill (`settle_fill`), and the module accounts: funds a contract
holds are ordinary balances of the contracts module's account, so the
conservation invariant (each asset: sum of all balances == minted - burned)
covers them with no special case.
Must never: decide whether a mutation is allowed (callers validate first and
call the ledger last); an overdraft here is a bug and fails an ``assert``.
Minting and burning change supply counters beside a balance: `mint`, `burn`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bftx import crypto

if TYPE_CHECKING:  # state.py holds the contracts module's state, which uses the ledger
    from bftx.exchange.state import Account, ExchangeState

_MODULE_DOMAIN = b"bftx/module/v1\x00"


def compute_module_address(name: str) -> bytes:
    """A module account's address: no key hashes to it, so no tx can ever be signed for it."""
    return crypto.sha256(_MODULE_DOMAIN + name.encode())[: crypto.ADDRESS_BYTES]


CONTRACTS_ACCOUNT = compute_module_address("contracts")
INTERCHAIN_ACCOUNT = compute_module_address("interchain")  # escrow of assets sent out
MODULE_ACCOUNTS = frozenset({CONTRACTS_ACCOUNT, INTERCHAIN_ACCOUNT})


def is_module_account(address: bytes) -> bool:
    return address in MODULE_ACCOUNTS


def increase(state: ExchangeState, account: Account, asset: str, amount: int) -> None:
    """Credit ``amount`` to the available balance."""
    account.balance(asset)[0] += amount
    state.dirty_accounts.add(account.address)


def decrease(state: ExchangeState, account: Account, asset: str, amount: int) -> None:
    """Debit ``amount`` from the available balance."""
    balance = account.balance(asset)
    assert balance[0] >= amount, "available balance would go negative"
    balance[0] -= amount
    state.dirty_accounts.add(account.address)


def lock(state: ExchangeState, account: Account, asset: str, amount: int) -> None:
    """Set aside ``amount`` of the available balance (what an open order could spend)."""
    balance = account.balance(asset)
    assert balance[0] >= amount, "available balance would go negative"
    balance[0] -= amount
    balance[1] += amount
    state.dirty_accounts.add(account.address)


def unlock(state: ExchangeState, account: Account, asset: str, amount: int) -> None:
    """Return ``amount`` of the locked balance to the available one."""
    balance = account.balance(asset)
    assert balance[1] >= amount, "locked balance would go negative"
    balance[1] -= amount
    balance[0] += amount
    state.dirty_accounts.add(account.address)


def move(
    state: ExchangeState, source: Account, destination: Account, asset: str, amount: int
) -> None:
    """Move ``amount`` from ``source``'s available balance to ``destination``'s."""
    balance = source.balance(asset)
    assert balance[0] >= amount, "available balance would go negative"
    balance[0] -= amount
    destination.balance(asset)[0] += amount
    dirty = state.dirty_accounts
    dirty.add(source.address)
    dirty.add(destination.address)


def mint(state: ExchangeState, account: Account, asset: str, amount: int) -> None:
    increase(state, account, asset, amount)
    state.minted[asset] += amount


def burn(state: ExchangeState, account: Account, asset: str, amount: int) -> None:
    decrease(state, account, asset, amount)
    state.burned[asset] += amount


def settle_fill(
    buyer_base: list[int],
    buyer_quote: list[int],
    seller_base: list[int],
    seller_quote: list[int],
    fee_base: list[int],
    fee_quote: list[int],
    base_units: int,
    quote_units: int,
    buyer_quote_locked: int,
    buyer_fee: int,
    seller_fee: int,
) -> None:
    """Delivery versus payment of one fill, out of both sides' locked balances, in one step.

    The buyer's lock for these lots (``buyer_quote_locked``, at its limit price)
    is spent: ``quote_units`` pay the seller, the rest returns to the buyer's
    available balance. The seller's locked base goes to the buyer. Each side's
    fee is taken from what it receives and goes to the market's fee account.
    Balances are the accounts' ``[available, locked]`` lists; the caller marks
    the accounts changed (once per batch of fills, which keeps matching fast).
    """
    assert buyer_quote[1] >= buyer_quote_locked >= quote_units, "buyer's lock does not cover"
    assert seller_base[1] >= base_units, "seller's lock does not cover"
    buyer_quote[1] -= buyer_quote_locked
    buyer_quote[0] += buyer_quote_locked - quote_units
    buyer_base[0] += base_units - buyer_fee
    seller_base[1] -= base_units
    seller_quote[0] += quote_units - seller_fee
    fee_base[0] += buyer_fee
    fee_quote[0] += seller_fee
