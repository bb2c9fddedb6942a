"""A small world for exchange tests: a genesis, funded accounts, and a way to run txs."""

from __future__ import annotations

from dataclasses import dataclass, field

from bftx import limits
from bftx.crypto import KeyPair
from bftx.errors import Code
from bftx.exchange import (
    BlockResult,
    Exchange,
    ExchangeGenesis,
    OrderType,
    PlaceOrder,
    Receipt,
    Side,
    Tx,
    decode_tx,
    sign_tx,
)
from bftx.exchange.commitment import StateCommitment
from bftx.exchange.invariants import find_violations
from bftx.exchange.state import ExchangeState
from bftx.exchange.transactions import Body

CHAIN_ID = "bftx-test"
BTC_LOT = 10_000  # 0.0001 BTC in satoshi
USD_TICK = 1  # 1 micro-dollar per lot per tick: one tick is $0.01 per BTC


def key(number: int) -> KeyPair:
    return KeyPair.from_seed(number.to_bytes(32, "big"))


REGISTRAR = key(1)
BTC_ISSUER = key(2)
USD_ISSUER = key(3)
FEES = key(4)
ALICE = key(10)
BOB = key(11)
CAROL = key(12)
DAVE = key(13)
OUTSIDER = key(99)  # never in genesis, never registered


def make_genesis(
    traders: list[KeyPair],
    btc: int = 100 * 10**8,
    usd: int = 10_000_000 * 10**6,
    maker_fee_bps: int = 0,
    taker_fee_bps: int = 0,
    permissioned: bool = True,
    min_lots: int = 1,
    supply_max: dict[str, int] | None = None,
    chain_id: str = CHAIN_ID,
    eth: int | None = None,
) -> ExchangeGenesis:
    supply = supply_max or {}
    return ExchangeGenesis.from_document(
        {
            "chain_id": chain_id,
            "access": "permissioned" if permissioned else "open",
            "assets": [
                {
                    "symbol": symbol,
                    "decimals": decimals,
                    "issuers": [issuer.address.hex()],
                    "supply_max": supply.get(symbol, limits.amount_max),
                }
                for symbol, decimals, issuer in (
                    ("BTC", 8, BTC_ISSUER),
                    ("USD", 6, USD_ISSUER),
                    ("ETH", 8, BTC_ISSUER),
                )
            ],
            "markets": [
                {
                    "symbol": "BTC/USD",
                    "base": "BTC",
                    "quote": "USD",
                    "tick_size": USD_TICK,
                    "lot_size": BTC_LOT,
                    "min_lots": min_lots,
                    "maker_fee_bps": maker_fee_bps,
                    "taker_fee_bps": taker_fee_bps,
                    "fee_account": FEES.address.hex(),
                },
                {
                    "symbol": "ETH/BTC",
                    "base": "ETH",
                    "quote": "BTC",
                    "tick_size": 1,
                    "lot_size": 1_000_000,
                    "maker_fee_bps": maker_fee_bps,
                    "taker_fee_bps": taker_fee_bps,
                    "fee_account": FEES.address.hex(),
                },
            ],
            "accounts": [
                {
                    "address": trader.address.hex(),
                    "balances": {"BTC": btc, "USD": usd, "ETH": btc if eth is None else eth},
                }
                for trader in traders
            ],
            "registrars": [REGISTRAR.address.hex()],
        }
    )


@dataclass
class World:
    """An exchange plus the bookkeeping to sign and execute txs one block at a time."""

    exchange: Exchange
    nonces: dict[bytes, int] = field(default_factory=dict)
    timestamp_ms: int = 1_000
    check_invariants: bool = True

    @staticmethod
    def create(traders: list[KeyPair], **genesis_options: object) -> World:
        return World(Exchange(make_genesis(traders, **genesis_options)))  # type: ignore[arg-type]

    def tx(self, signer: KeyPair, body: Body, nonce: int | None = None) -> Tx:
        if nonce is None:
            nonce = self.nonces.get(signer.address, 0)
            self.nonces[signer.address] = nonce + 1
        return decode_tx(sign_tx(signer, CHAIN_ID, nonce, body))

    def block(self, txs: list[Tx], timestamp_ms: int | None = None) -> BlockResult:
        self.timestamp_ms = timestamp_ms if timestamp_ms is not None else self.timestamp_ms + 1_000
        result = self.exchange.execute_block(self.exchange.height + 1, self.timestamp_ms, txs)
        if self.check_invariants:
            assert find_violations(self.exchange.state) == []
        return result

    def run(self, signer: KeyPair, body: Body) -> Code:
        """Execute one tx in its own block and return its result code."""
        return self.receipt(signer, body).code

    def receipt(self, signer: KeyPair, body: Body) -> Receipt:
        """Execute one tx in its own block and return its receipt."""
        (receipt,) = self.block([self.tx(signer, body)]).receipts
        return receipt

    def next_nonce(self, signer: KeyPair) -> int:
        """The nonce the next `tx` of ``signer`` will use (the id of an order it places)."""
        return self.nonces.get(signer.address, 0)

    def place(
        self,
        signer: KeyPair,
        side: Side,
        price: int,
        lots: int,
        order_type: OrderType = OrderType.LIMIT,
        market: str = "BTC/USD",
        expires_at_ms: int = 0,
    ) -> Receipt:
        """Place an order in its own block; its id is ``receipt.nonce``."""
        body = PlaceOrder(market, side, order_type, price, lots, expires_at_ms)
        return self.receipt(signer, body)

    def order(
        self,
        signer: KeyPair,
        side: Side,
        price: int,
        lots: int,
        order_type: OrderType = OrderType.LIMIT,
        market: str = "BTC/USD",
        expires_at_ms: int = 0,
    ) -> Code:
        return self.run(signer, PlaceOrder(market, side, order_type, price, lots, expires_at_ms))

    def available(self, who: KeyPair, asset: str) -> int:
        balance = self.exchange.balances(who.address).get(asset)
        return balance.available if balance else 0

    def locked(self, who: KeyPair, asset: str) -> int:
        balance = self.exchange.balances(who.address).get(asset)
        return balance.locked if balance else 0


def compute_root_from_scratch(state: ExchangeState) -> bytes:
    """The state root rebuilt from every entry of ``state`` in a fresh commitment.

    The incremental root must equal it: a mutation that forgot to mark what it
    touched shows up as a difference. ``state`` is left as it was.
    """
    assert not state.dirty_accounts and not state.dirty_orders, "call after a block"
    saved = state.commitment
    state.commitment = StateCommitment(saved.buckets_log2)
    state.dirty_accounts.update(state.accounts)
    for account in state.accounts.values():
        for order in account.open_orders.values():
            state.dirty_orders[order.key] = order
    state.contracts.dirty.update(state.contracts.htlcs)
    state.contracts.dirty.update(state.contracts.deals)
    try:
        return state.compute_state_root()
    finally:
        state.commitment = saved
        state.dirty_accounts.clear()
        state.dirty_orders.clear()


def events_of(result: BlockResult) -> list[object]:
    """Every event of a block, block events first, then each receipt's in execution order."""
    return [*result.block_events, *(event for r in result.receipts for event in r.events)]
