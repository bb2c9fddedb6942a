"""The exchange behind the consensus engine's `Application` boundary (bytes in, roots out).

`bftx.consensus.application.Application` is a structural protocol, so this
adapter satisfies it without importing consensus (DESIGN.md section 2). It
adds what a validator needs around `Exchange`: decoding txs from bytes, a
bounded cache of tx hashes whose signature this node has verified (each
signature is checked once per node: at admission, or when a proposal brings a
tx the node has not seen), a bounded cache of decoded txs by their bytes (a tx
is decoded once per node, not again for the proposal pool, the proposal check
and execution), and the results of the last executed block for the node to
store and publish.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from bftx import limits
from bftx.errors import Code, DecodeError
from bftx.exchange.events import BlockResult
from bftx.exchange.genesis import ExchangeGenesis
from bftx.exchange.machine import BlockRejection, Exchange
from bftx.exchange.transactions import Tx, decode_tx


class VerifiedTxCache:
    """Hashes of txs whose signature verified here, oldest forgotten first."""

    def __init__(self, capacity: int = limits.verified_tx_cache_max) -> None:
        self.capacity = capacity
        self._hashes: OrderedDict[bytes, None] = OrderedDict()

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._hashes

    def __len__(self) -> int:
        return len(self._hashes)

    def add(self, tx_hash: bytes) -> None:
        self._hashes[tx_hash] = None
        if len(self._hashes) > self.capacity:
            self._hashes.popitem(last=False)

    def forget(self, tx_hashes: Iterable[bytes]) -> None:
        """Drop committed txs: a copy that comes later fails on its nonce, so keeping their
        hashes only grew the node's memory until the cache was full."""
        hashes = self._hashes
        for tx_hash in tx_hashes:
            hashes.pop(tx_hash, None)


class DecodedTxCache:
    """Decoded txs by their exact bytes: two generations, the older one forgotten as a whole.

    Holds at most ``capacity`` txs and remembers at least the last
    ``capacity // 2`` added. Decoding is deterministic, so a hit is exactly
    what `decode_tx` would return for the same bytes.
    """

    def __init__(self, capacity: int = limits.decoded_txs_max) -> None:
        self._generation_max = max(1, capacity // 2)
        self._current: dict[bytes, Tx] = {}
        self._previous: dict[bytes, Tx] = {}

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def get(self, data: bytes) -> Tx | None:
        tx = self._current.get(data)
        return tx if tx is not None else self._previous.get(data)

    def decode(self, data: bytes) -> Tx:
        """`decode_tx`, once per distinct bytes; raises `DecodeError` like it."""
        tx = self.get(data)
        if tx is None:
            tx = decode_tx(data)
            self.add(data, tx)
        return tx

    def add(self, data: bytes, tx: Tx) -> None:
        """Remember ``tx``, which `decode_tx` returned for ``data``."""
        if len(self._current) >= self._generation_max:
            self._previous = self._current
            self._current = {}
        self._current[data] = tx

    def forget(self, txs: tuple[bytes, ...]) -> None:
        """Drop these txs (a committed block's): nothing asks for them again but a duplicate,
        which decodes afresh. Keeping only what is pending keeps the tracked heap small, so the
        garbage collector's full passes stay short."""
        current, previous = self._current, self._previous
        for data in txs:
            current.pop(data, None)
            previous.pop(data, None)


class ExchangeApplication:
    def __init__(self, genesis: ExchangeGenesis, exchange: Exchange | None = None) -> None:
        self.genesis = genesis
        self.exchange = exchange if exchange is not None else Exchange(genesis)
        self.verified = VerifiedTxCache()
        self.decoded = DecodedTxCache()
        self.last_result: BlockResult | None = None
        self.last_rejection: BlockRejection | None = None

    def admit(self, data: bytes, check_body: bool = True) -> tuple[Code, Tx | None]:
        """Decode and check a submitted tx against the latest state; verify its signature once.

        ``check_body`` False: only whether it can execute at all (`execution.check_tx`).
        """
        try:
            tx = self.decoded.decode(data)
        except DecodeError:
            return Code.MALFORMED, None
        already_verified = tx.hash in self.verified
        code = self.exchange.check_tx(
            tx, verify_signature=not already_verified, check_body=check_body
        )
        if code is Code.OK and not already_verified:
            self.verified.add(tx.hash)
        return code, tx

    def recheck(self, tx: Tx) -> Code:
        """Can an admitted tx still execute against the latest state (its nonce free)? Its
        signature was verified; a body that would now fail is its result, not a reason to drop it."""
        return self.exchange.check_tx(tx, verify_signature=False, check_body=False)

    def next_nonce(self, sender: bytes) -> int:
        return self.exchange.nonce(sender)

    # --- bftx.consensus.application.Application ------------------------------------

    def check_tx(self, tx: bytes) -> int:
        """For the proposal pool: can the tx execute? (A body that fails is its result code.)"""
        code, _tx = self.admit(tx, check_body=False)
        return int(code)

    def is_tx_used(self, tx: bytes) -> bool:
        """Its sender's nonce moved past it: that nonce executed (this tx or a rival)."""
        try:
            decoded = self.decoded.decode(tx)
        except DecodeError:
            return False  # never admitted, never valid in a block: not a question of nonces
        return self.exchange.nonce(decoded.sender) > decoded.nonce

    def validate_block(self, txs: tuple[bytes, ...]) -> bool:
        if self._are_known_valid(txs):
            return True
        decoded = self.exchange.decode_block(txs, self.verified, self.decoded.decode)
        if isinstance(decoded, BlockRejection):
            self.last_rejection = decoded
            return False
        for tx in decoded:
            self.verified.add(tx.hash)
        return True

    def _are_known_valid(self, txs: tuple[bytes, ...]) -> bool:
        """Every tx decoded and verified here before (at admission, usually): nothing to redo."""
        if len(txs) > limits.txs_per_block_max:
            return False
        chain_id = self.exchange.state.chain_id
        for data in txs:
            tx = self.decoded.get(data)
            if tx is None or tx.hash not in self.verified or tx.chain_id != chain_id:
                return False
        return True

    def execute_block(self, height: int, timestamp_ms: int, txs: tuple[bytes, ...]) -> bytes:
        """Execute a committed block. Its txs were validated by a quorum, so only decoding remains;
        bytes that do not decode in a certified block mean the quorum assumption broke: stop."""
        decode = self.decoded.decode
        decoded = [decode(data) for data in txs]
        self.last_result = self.exchange.execute_block(height, timestamp_ms, decoded)
        self.decoded.forget(txs)
        self.verified.forget(tx.hash for tx in decoded)
        return self.last_result.state_root

    def state_root(self) -> bytes:
        return self.exchange.state_root()

    def create_snapshot(self) -> bytes:
        return self.exchange.snapshot()

    def restore_snapshot(self, height: int, snapshot: bytes, state_root: bytes) -> bool:
        try:
            restored = Exchange.restore(self.genesis, snapshot)
        except DecodeError:
            return False
        if restored.height != height or restored.state_root() != state_root:
            return False
        self.exchange = restored
        return True
