"""`Exchange`: the deterministic state machine every validator runs, and its queries.

The facade the rest of bftx uses. It owns an `ExchangeState` and exposes
admission (`check_tx`), block validation (`decode_block`), execution
(`execute_block`) and read-only queries. No I/O, no clock, no randomness:
time enters only as a block's agreed timestamp.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

from bftx import limits
from bftx.errors import Code, DecodeError
from bftx.exchange import execution, snapshot
from bftx.exchange.commitment import BucketProof
from bftx.exchange.contracts import Deal, Htlc
from bftx.exchange.events import BlockResult, Trade
from bftx.exchange.genesis import ExchangeGenesis
from bftx.exchange.state import ExchangeState, Order
from bftx.exchange.transactions import OrderType, Side, Tx, decode_tx


@dataclass(frozen=True, slots=True)
class OrderView:
    market: str
    owner: bytes
    nonce: int
    side: Side
    order_type: OrderType
    price_ticks: int
    quantity_lots: int
    remaining_lots: int
    sequence: int
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class Depth:
    market: str
    height: int
    bids: tuple[tuple[int, int], ...]  # (price_ticks, quantity_lots), best first
    asks: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Balance:
    available: int
    locked: int


@dataclass(frozen=True, slots=True)
class BlockRejection:
    """Why a proposed block's txs cannot be executed: the proposer is at fault."""

    index: int
    code: Code
    reason: str


class Exchange:
    def __init__(self, genesis: ExchangeGenesis) -> None:
        self.state = ExchangeState(genesis)

    @property
    def height(self) -> int:
        return self.state.height

    @property
    def chain_id(self) -> str:
        return self.state.chain_id

    def state_root(self) -> bytes:
        return self.state.compute_state_root()

    def snapshot(self) -> bytes:
        """The whole state as canonical bytes (`bftx.exchange.snapshot`)."""
        return snapshot.encode_snapshot(self.state)

    @staticmethod
    def restore(genesis: ExchangeGenesis, data: bytes) -> Exchange:
        """An exchange whose state is the snapshot ``data``; `DecodeError` if it is not one."""
        exchange = Exchange(genesis)
        exchange.state = snapshot.decode_snapshot(genesis, data)
        return exchange

    # --- consensus-facing ---------------------------------------------------------

    def check_tx(self, tx: Tx, verify_signature: bool = True, check_body: bool = True) -> Code:
        return execution.check_tx(self.state, tx, verify_signature, check_body)

    def decode_block(
        self,
        txs: Sequence[bytes],
        verified: Container[bytes] = (),
        decode: Callable[[bytes], Tx] = decode_tx,
    ) -> list[Tx] | BlockRejection:
        """Decode and authenticate a proposed block's txs, or say which one makes it invalid.

        ``verified`` holds hashes of txs whose signature this node has already
        checked (the mempool's cache), so a signature is verified once per node;
        ``decode`` may be a cache of `decode_tx` (the node's), so a tx is decoded once.
        """
        if len(txs) > limits.txs_per_block_max:
            return BlockRejection(len(txs), Code.MALFORMED, "too many txs in the block")
        decoded = []
        for index, data in enumerate(txs):
            try:
                tx = decode(data)
            except DecodeError as error:
                return BlockRejection(index, Code.MALFORMED, str(error))
            if tx.chain_id != self.state.chain_id:
                return BlockRejection(index, Code.WRONG_CHAIN, "tx for another chain")
            if tx.hash not in verified and not tx.has_valid_signature():
                return BlockRejection(index, Code.BAD_SIGNATURE, "bad signature")
            decoded.append(tx)
        return decoded

    def execute_block(self, height: int, timestamp_ms: int, txs: Sequence[Tx]) -> BlockResult:
        return execution.execute_block(self.state, height, timestamp_ms, txs)

    # --- queries --------------------------------------------------------------------

    def depth(self, market: str, levels: int = 50) -> Depth | None:
        book = self.state.books.get(market)
        if book is None:
            return None
        count = max(1, min(levels, limits.book_depth_levels_max))
        return Depth(
            market,
            self.state.height,
            tuple(book.depth(Side.BUY, count)),
            tuple(book.depth(Side.SELL, count)),
        )

    def order(self, owner: bytes, nonce: int) -> OrderView | None:
        order = self.state.peek_account(owner).open_orders.get(nonce)
        return None if order is None else _view(order)

    def open_orders(self, owner: bytes, market: str | None = None) -> list[OrderView]:
        orders = sorted(
            self.state.peek_account(owner).open_orders.values(), key=lambda o: o.sequence
        )
        selected = [o for o in orders if market is None or o.market == market]
        return [_view(order) for order in selected[: limits.open_orders_query_max]]

    def balances(self, owner: bytes) -> dict[str, Balance]:
        account = self.state.peek_account(owner)
        return {
            symbol: Balance(b[0], b[1])
            for symbol, b in sorted(account.balances.items())
            if b[0] or b[1]
        }

    def nonce(self, owner: bytes) -> int:
        return self.state.peek_account(owner).nonce

    def is_registered(self, owner: bytes) -> bool:
        return self.state.is_registered(owner)

    def htlc(self, contract_id: bytes) -> Htlc | None:
        return self.state.contracts.htlcs.get(contract_id)

    def deal(self, contract_id: bytes) -> Deal | None:
        return self.state.contracts.deals.get(contract_id)

    def prove(self, key: bytes, height: int) -> BucketProof | None:
        """A membership or absence proof of the state entry ``key`` in the state after block
        ``height`` (`bftx.exchange.proofs`); None when that height is no longer kept."""
        self.state.compute_state_root()
        return self.state.commitment.prove(key, height)

    def provable_heights(self) -> tuple[int, ...]:
        return self.state.commitment.provable_heights()

    def recent_trades(self, market: str, limit: int = 100) -> list[Trade]:
        trades = self.state.recent_trades.get(market)
        if trades is None:
            return []
        count = max(0, min(limit, limits.recent_trades_max))
        return list(trades)[-count:][::-1] if count else []


def _view(order: Order) -> OrderView:
    return OrderView(
        order.market,
        order.owner,
        order.key[1],
        order.side,
        order.order_type,
        order.price_ticks,
        order.quantity_lots,
        order.remaining_lots,
        order.sequence,
        order.expires_at_ms,
    )
