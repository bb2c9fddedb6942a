"""The exchange's state: accounts, balances, nonces, open orders, books, supplies, contracts.

State is mutated only by `execution`; this module owns the containers, the
explicit mutators that keep the commitment up to date (every mutation marks
what it touched), and the state root. Balances are ``[available, locked]``
integer pairs in the asset's smallest unit.
"""

from __future__ import annotations

from collections import deque

from bftx import codec, limits
from bftx.exchange.book import OrderBook, OrderBookApi
from bftx.exchange.commitment import StateCommitment
from bftx.exchange.contracts import Contracts, deal_to_value, htlc_to_value
from bftx.exchange.events import Trade
from bftx.exchange.genesis import Asset, ExchangeGenesis, Market
from bftx.exchange.interchain import Interchain
from bftx.exchange.keys import COUNTERS_KEY as COUNTERS_KEY
from bftx.exchange.keys import account_key as account_key
from bftx.exchange.keys import contract_key as contract_key
from bftx.exchange.keys import order_key as order_key
from bftx.exchange.keys import supply_key as supply_key
from bftx.exchange.transactions import OrderType, Side

OrderKey = tuple[bytes, int]  # (owner address, nonce of the placing tx)


class Order:
    """An open (resting) order as the exchange records it; the book holds its id and size."""

    __slots__ = (
        "expires_at_ms",
        "key",
        "market",
        "order_type",
        "owner",
        "price_ticks",
        "quantity_lots",
        "remaining_lots",
        "sequence",
        "side",
    )

    def __init__(
        self,
        key: OrderKey,
        market: str,
        side: Side,
        order_type: OrderType,
        price_ticks: int,
        quantity_lots: int,
        remaining_lots: int,
        sequence: int,
        expires_at_ms: int,
    ) -> None:
        self.key = key
        self.owner = key[0]
        self.market = market
        self.side = side
        self.order_type = order_type
        self.price_ticks = price_ticks
        self.quantity_lots = quantity_lots
        self.remaining_lots = remaining_lots
        self.sequence = sequence  # time priority, and the order's id in its book
        self.expires_at_ms = expires_at_ms


class Account:
    __slots__ = ("address", "balances", "nonce", "open_orders", "registered")

    def __init__(self, address: bytes, registered: bool = False) -> None:
        self.address = address
        self.nonce = 0
        self.registered = registered
        self.balances: dict[str, list[int]] = {}  # asset -> [available, locked]
        self.open_orders: dict[int, Order] = {}  # nonce of the placing tx -> order

    def available(self, asset: str) -> int:
        balance = self.balances.get(asset)
        return balance[0] if balance else 0

    def locked(self, asset: str) -> int:
        balance = self.balances.get(asset)
        return balance[1] if balance else 0

    def balance(self, asset: str) -> list[int]:
        balance = self.balances.get(asset)
        if balance is None:
            balance = self.balances[asset] = [0, 0]
        return balance


_NO_ACCOUNT = Account(b"")


class ExchangeState:
    def __init__(self, genesis: ExchangeGenesis) -> None:
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.permissioned = genesis.permissioned
        self.assets: dict[str, Asset] = {asset.symbol: asset for asset in genesis.assets}
        self.markets: dict[str, Market] = {market.symbol: market for market in genesis.markets}
        self.books: dict[str, OrderBookApi] = {symbol: OrderBook() for symbol in self.markets}
        self.orders: dict[int, Order] = {}  # open orders by sequence (their id in the books)
        self.registrars = frozenset(genesis.registrars)
        self.issuers: dict[str, frozenset[bytes]] = {
            a.symbol: frozenset(a.issuers) for a in genesis.assets
        }
        self.accounts: dict[bytes, Account] = {}
        self.minted: dict[str, int] = dict.fromkeys(self.assets, 0)
        self.burned: dict[str, int] = dict.fromkeys(self.assets, 0)
        self.next_order_sequence = 1
        self.next_trade_id = 1
        self.recent_trades: dict[str, deque[Trade]] = {
            symbol: deque(maxlen=limits.recent_trades_max) for symbol in self.markets
        }
        self.height = 0
        # (expires_at_ms, sequence, key) of resting orders with an expiry; stale entries skipped
        self.expiries: list[tuple[int, int, OrderKey]] = []
        self.commitment = StateCommitment(limits.state_buckets_log2)
        self.dirty_accounts: set[bytes] = set()
        self.dirty_orders: dict[OrderKey, Order] = {}
        self.contracts = Contracts()
        self.interchain = Interchain()
        self._load_genesis(genesis)
        self.compute_state_root()
        self.commitment.seal(0)

    def _load_genesis(self, genesis: ExchangeGenesis) -> None:
        privileged = set(genesis.registrars)
        privileged.update(market.fee_account for market in genesis.markets)
        privileged.update(issuer for asset in genesis.assets for issuer in asset.issuers)
        for address in sorted(privileged):
            self.account(address).registered = True
        for entry in genesis.accounts:
            account = self.account(entry.address)
            account.registered = True
            for symbol, amount in entry.balances:
                account.balance(symbol)[0] += amount
                self.minted[symbol] += amount

    # --- accessors --------------------------------------------------------------

    def account(self, address: bytes) -> Account:
        """The account at ``address``, created empty (and marked for the commitment) if new."""
        account = self.accounts.get(address)
        if account is None:
            account = self.accounts[address] = Account(address)
            self.dirty_accounts.add(address)
        return account

    def peek_account(self, address: bytes) -> Account:
        """The account at ``address`` without creating it (an empty stand-in when unknown)."""
        return self.accounts.get(address, _NO_ACCOUNT)

    def is_registered(self, address: bytes) -> bool:
        return not self.permissioned or self.peek_account(address).registered

    # --- commitment -------------------------------------------------------------

    def compute_state_root(self) -> bytes:
        """Fold every entry touched since the last call into the commitment; return the root."""
        commitment = self.commitment
        for address in self.dirty_accounts:
            account = self.accounts[address]
            commitment.put(account_key(address), encode_account(account))
        self.dirty_accounts.clear()
        for key, order in self.dirty_orders.items():
            entry_key = order_key(key[0], key[1])
            if order.remaining_lots:
                commitment.put(entry_key, encode_order(order))
            else:
                commitment.delete(entry_key)
        self.dirty_orders.clear()
        contracts = self.contracts
        for contract_id in contracts.dirty:
            htlc = contracts.htlcs.get(contract_id)
            value = htlc_to_value(htlc) if htlc else deal_to_value(contracts.deals[contract_id])
            commitment.put(contract_key(contract_id), codec.encode(value))
        contracts.dirty.clear()
        interchain_entries = self.interchain.dirty
        if interchain_entries:
            for state_key, entry in interchain_entries.items():
                if entry is None:
                    commitment.delete(state_key)
                else:
                    commitment.put(state_key, entry)
            interchain_entries.clear()
        for symbol in self.assets:
            # minted and burned only grow (deposits and withdrawals add up past 64 bits,
            # which the codec cannot encode); 16 bytes each never overflow in practice
            supply = (
                self.minted[symbol].to_bytes(16, "big"),
                self.burned[symbol].to_bytes(16, "big"),
            )
            commitment.put(supply_key(symbol), codec.encode(supply))
        commitment.put(
            COUNTERS_KEY, codec.encode((self.height, self.next_order_sequence, self.next_trade_id))
        )
        return commitment.root()


def encode_account(account: Account) -> bytes:
    balances = tuple(
        (symbol, balance[0], balance[1])
        for symbol, balance in sorted(account.balances.items())
        if balance[0] or balance[1]
    )
    return codec.encode((account.nonce, account.registered, balances))


def encode_order(order: Order) -> bytes:
    return codec.encode(
        (
            order.market,
            int(order.side),
            int(order.order_type),
            order.price_ticks,
            order.quantity_lots,
            order.remaining_lots,
            order.sequence,
            order.expires_at_ms,
        )
    )
