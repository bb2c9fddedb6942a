"""The mempool: admitted txs that are not committed yet, ordered per account by nonce.

Owns admission of submitted bytes (decode with limits, chain id, signature
verified once per node, `check_tx` against the latest committed state, then
its own checks: duplicates (this very tx, ``duplicate_tx``, or another
holding its nonce, ``nonce_pending``), per-account and global bounds), the
release of *ready* txs to the consensus replica's proposal pool, and the cleanup after
each committed block. It never executes txs and never talks to the network.

Policies (docs/node.md):
- **Ordering.** A tx is released for proposal only when it is *ready*: its
  nonce is its account's next one, or the tx with the nonce before it has been
  released. Released txs reach the replica in nonce order, so a proposal never
  holds an account's nonce n+1 without n before it, and a tx waiting for a
  missing nonce is never proposed (nor counted as censored).
- **Bounds.** At most ``limits.mempool_txs_max`` txs and
  ``limits.mempool_bytes_max`` bytes in all; at most ``limits.nonce_ahead_max``
  per account (`check_tx` refuses nonces further ahead).
- **Eviction.** When full, a tx whose nonce is its account's next one evicts
  the unreleased tx with the highest nonce of the account that holds the most
  pending txs, if that account holds more than one; any other tx is refused
  with ``mempool_full``. A ready tx is one a block could take
  right now; a far-future nonce is the cheapest thing to drop.
- **Cleanup.** After a block commits, its txs leave, and every pending tx of
  an account the block touched is checked again: a tx whose nonce the block
  used (it lost a nonce race to another tx of the same account) can never
  commit and leaves at once. A tx whose body would now fail (a cancel of an
  order that filled meanwhile, an order whose funds went) stays: it commits
  with the failure as its result code and uses its nonce, so an admitted tx
  is settled, never silently dropped, and its account's later nonces do not
  wait on a hole. After a state transfer every pending tx is checked again.
- **Peers.** A tx gossiped by a peer was checked by that peer against its own
  state; here only what decides whether it can execute at all is checked
  (chain, signature, registration, nonce window), since two nodes a few
  blocks apart disagree on whether a body would succeed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bftx import limits
from bftx.errors import Code
from bftx.exchange.transactions import Tx


class Admission(Protocol):
    """What the mempool needs from the application (`bftx.exchange.application.ExchangeApplication`)."""

    def admit(self, data: bytes, check_body: bool = True) -> tuple[Code, Tx | None]: ...
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
    released: bool = False  # handed to the replica for proposal


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
        self._by_sender: dict[bytes, dict[int, _Entry]] = {}
        self._candidates: set[bytes] = set()  # senders that may have a newly ready tx
        self.size_bytes = 0
        self.released = 0  # txs handed to the replica and not committed (or dropped) yet
        self.evicted = 0
        self.dropped_after_block = 0

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    def get(self, tx_hash: bytes) -> bytes | None:
        entry = self._by_hash.get(tx_hash)
        return None if entry is None else entry.data

    def pending_txs(self) -> list[bytes]:
        """Every tx held, each account's in nonce order (what a clean stop saves)."""
        return [
            pending[nonce].data
            for _sender, pending in sorted(self._by_sender.items())
            for nonce in sorted(pending)
        ]

    # --- admission ------------------------------------------------------------------

    def add(self, data: bytes, now_ms: int, check_body: bool = True) -> Admitted:
        """Admit ``data``. ``check_body`` False (a peer's tx, checked by the node a client sent
        it to, against that node's state): only whether it can execute at all."""
        code, tx = self.admission.admit(data, check_body)
        if tx is None or code is not Code.OK:
            return Admitted(code, None if tx is None else tx.hash)
        if tx.hash in self._by_hash:
            return Admitted(Code.DUPLICATE_TX, tx.hash)
        pending = self._by_sender.get(tx.sender)
        if pending is not None and tx.nonce in pending:
            return Admitted(Code.NONCE_PENDING, tx.hash)
        if not self._has_room_for(len(data)) and not self._evict_for(tx, len(data)):
            return Admitted(Code.MEMPOOL_FULL, tx.hash)
        entry = _Entry(tx, bytes(data), now_ms)
        self._by_hash[tx.hash] = entry
        self._by_sender.setdefault(tx.sender, {})[tx.nonce] = entry
        self._candidates.add(tx.sender)
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
        if victim.released:  # the replica holds it already; nothing left to evict
            return False
        self._remove(victim)
        self.evicted += 1
        return self._has_room_for(size)

    # --- release to the replica ------------------------------------------------------

    def release_ready(self) -> list[bytes]:
        """Txs that became ready since the last call, each account's in nonce order."""
        released: list[bytes] = []
        for sender in sorted(self._candidates):
            pending = self._by_sender.get(sender)
            if pending is None:
                continue
            nonce = self.admission.next_nonce(sender)
            while (entry := pending.get(nonce)) is not None:
                if not entry.released:
                    entry.released = True
                    released.append(entry.data)
                    self.released += 1
                nonce += 1
        self._candidates.clear()
        return released

    def is_next_nonce(self, tx: Tx) -> bool:
        """Is ``tx``'s nonce the first its account lacks (committed or waiting here)?"""
        missing = self.admission.next_nonce(tx.sender)
        pending = self._by_sender.get(tx.sender)
        if pending is not None:
            while missing in pending:
                missing += 1
        return tx.nonce == missing

    @property
    def waiting(self) -> int:
        """Txs held and not handed to the replica: nearly all wait for an earlier nonce."""
        return len(self._by_hash) - self.released

    def fills_gap(self, sender: bytes, nonce: int) -> bool:
        """Is ``nonce`` the first ``sender`` lacks, with later txs of the account waiting here?"""
        pending = self._by_sender.get(sender)
        if pending is None:
            return False
        missing = self.admission.next_nonce(sender)
        while missing in pending:
            missing += 1
        return nonce == missing and max(pending) > missing

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
            self._candidates.add(sender)
            pending = self._by_sender.get(sender)
            if pending is None:
                continue
            for entry in [pending[nonce] for nonce in sorted(pending)]:
                if self.admission.recheck(entry.tx) is not Code.OK:
                    self._remove(entry)
                    self.dropped_after_block += 1

    def recheck_all(self) -> None:
        """Re-check every pending tx against a state that changed wholesale (state transfer)."""
        self.remove_committed((), list(self._by_sender))

    def _remove(self, entry: _Entry) -> None:
        del self._by_hash[entry.tx.hash]
        pending = self._by_sender[entry.tx.sender]
        del pending[entry.tx.nonce]
        if not pending:
            del self._by_sender[entry.tx.sender]
        self.size_bytes -= len(entry.data)
        if entry.released:
            self.released -= 1
