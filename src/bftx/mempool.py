"""The mempool: admitted txs that are not committed yet, ordered per account by nonce.

Owns admission of submitted bytes (decode with limits, chain id, signature
verified once per node, `check_tx` against the latest committed state, then
its own checks: duplicates, per-account and global bounds), the selection of
batches for proposals, and the cleanup after each committed block. It never
executes txs and never talks to the network.

Policies (docs/node.md):
- **Ordering.** A proposal takes, from each account, only txs whose nonces
  continue the account's next nonce without a gap (counting txs already in
  flight in earlier proposals), in nonce order; accounts are served round-robin
  in the order they last got a tx in, so a busy account cannot starve others.
- **Bounds.** At most ``limits.mempool_txs_max`` txs and
  ``limits.mempool_bytes_max`` bytes in all; at most ``limits.nonce_ahead_max``
  per account (`check_tx` refuses nonces further ahead).
- **Eviction.** When full, a tx that is *ready* (its nonce is its account's
  next one) evicts the pending tx with the highest nonce of the account that
  holds the most pending txs, if that account holds more than one; any other
  tx is refused with ``mempool_full``. A ready tx is one a block could take
  right now; a far-future nonce is the cheapest thing to drop.
- **Cleanup.** After a block commits, its txs leave, and every pending tx of
  an account the block touched is checked again (nonce, funds); what became
  invalid leaves with its reason.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Protocol

from bftx import limits
from bftx.errors import Code
from bftx.exchange.transactions import Tx


class Admission(Protocol):
    """What the mempool needs from the application (`bftx.exchange.application.ExchangeApplication`)."""

    def admit(self, data: bytes) -> tuple[Code, Tx | None]: ...
    def recheck(self, tx: Tx) -> Code: ...
    def next_nonce(self, sender: bytes) -> int: ...


@dataclass(frozen=True, slots=True)
class Admitted:
    code: Code
    tx_hash: bytes | None


@dataclass(slots=True)
class _Entry:
    tx: Tx
    data: bytes
    admitted_ms: int


class Mempool:
    def __init__(
        self,
        admission: Admission,
        txs_max: int = limits.mempool_txs_max,
        bytes_max: int = limits.mempool_bytes_max,
    ) -> None:
        self.admission = admission
        self.txs_max = txs_max
        self.bytes_max = bytes_max
        self._by_hash: dict[bytes, _Entry] = {}
        self._by_sender: OrderedDict[bytes, dict[int, _Entry]] = OrderedDict()
        self.size_bytes = 0
        self.evicted = 0
        self.dropped_after_block = 0

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    def get(self, tx_hash: bytes) -> bytes | None:
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.data

    # --- admission ------------------------------------------------------------------

    def add(self, data: bytes, now_ms: int) -> Admitted:
        code, tx = self.admission.admit(data)
        if tx is None or code is not Code.OK:
            return Admitted(code, None if tx is None else tx.hash)
        if tx.hash in self._by_hash:
            return Admitted(Code.DUPLICATE_TX, tx.hash)
        pending = self._by_sender.get(tx.sender)
        if pending is not None and tx.nonce in pending:
            return Admitted(Code.DUPLICATE_TX, tx.hash)
        if not self._has_room_for(len(data)) and not self._evict_for(tx, len(data)):
            return Admitted(Code.MEMPOOL_FULL, tx.hash)
        entry = _Entry(tx, bytes(data), now_ms)
        self._by_hash[tx.hash] = entry
        self._by_sender.setdefault(tx.sender, {})[tx.nonce] = entry
        self.size_bytes += len(data)
        return Admitted(Code.OK, tx.hash)

    def _has_room_for(self, size: int) -> bool:
        return len(self._by_hash) < self.txs_max and self.size_bytes + size <= self.bytes_max

    def _evict_for(self, tx: Tx, size: int) -> bool:
        if tx.nonce != self.admission.next_nonce(tx.sender) or not self._by_sender:
            return False
        busiest = max(self._by_sender.items(), key=lambda item: (len(item[1]), item[0]))[1]
        if len(busiest) <= 1:
            return False
        victim = busiest[max(busiest)]
        self._remove(victim)
        self.evicted += 1
        return self._has_room_for(size)

    # --- proposals --------------------------------------------------------------------

    def select(self, txs_max: int, bytes_max: int, in_flight: Container[bytes]) -> list[bytes]:
        """Txs for the next proposal: gap-free nonce runs per account, accounts round-robin.

        ``in_flight`` holds hashes already proposed in blocks not yet
        committed: they are not taken again, but they continue their
        account's nonce run.
        """
        runs: list[tuple[bytes, list[_Entry]]] = []
        for sender, pending in self._by_sender.items():
            nonce = self.admission.next_nonce(sender)
            run = []
            while nonce in pending:
                entry = pending[nonce]
                if entry.tx.hash not in in_flight:
                    run.append(entry)
                nonce += 1
            if run:
                runs.append((sender, run))
        chosen: list[bytes] = []
        size = 0
        served: list[bytes] = []
        depth = 0
        while runs and len(chosen) < txs_max:
            still: list[tuple[bytes, list[_Entry]]] = []
            for sender, run in runs:
                if len(chosen) >= txs_max:
                    break
                entry = run[depth]
                if size + len(entry.data) > bytes_max:
                    continue
                chosen.append(entry.data)
                size += len(entry.data)
                if depth == 0:
                    served.append(sender)
                if len(run) > depth + 1:
                    still.append((sender, run))
            runs = still
            depth += 1
        for sender in served:  # round-robin: the served go to the back of the line
            self._by_sender.move_to_end(sender)
        return chosen

    def oldest_admitted_ms(self, in_flight: Container[bytes]) -> int | None:
        """When the longest-waiting tx that is not in flight was admitted (for censorship detection)."""
        waiting = [e.admitted_ms for h, e in self._by_hash.items() if h not in in_flight]
        return min(waiting) if waiting else None

    # --- after a committed block --------------------------------------------------------

    def remove_committed(
        self, tx_hashes: Iterable[bytes], touched_accounts: Iterable[bytes]
    ) -> None:
        """Drop a committed block's txs, then re-check the pending txs of the accounts it touched."""
        for tx_hash in tx_hashes:
            entry = self._by_hash.get(tx_hash)
            if entry is not None:
                self._remove(entry)
        for sender in set(touched_accounts):
            pending = self._by_sender.get(sender)
            if pending is None:
                continue
            for entry in [pending[nonce] for nonce in sorted(pending)]:
                if self.admission.recheck(entry.tx) is not Code.OK:
                    self._remove(entry)
                    self.dropped_after_block += 1

    def _remove(self, entry: _Entry) -> None:
        del self._by_hash[entry.tx.hash]
        pending = self._by_sender[entry.tx.sender]
        del pending[entry.tx.nonce]
        if not pending:
            del self._by_sender[entry.tx.sender]
        self.size_bytes -= len(entry.data)
