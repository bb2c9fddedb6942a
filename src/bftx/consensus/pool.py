"""The proposal pool's rules: what a replica holds to propose, and when it accuses the primary.

Pure functions over the pool's data; `Replica` owns the pool itself. This
module never decides anything about views, votes or blocks beyond these rules.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bftx import crypto


@dataclass(frozen=True, slots=True)
class PendingTx:
    tx: bytes
    admitted_ms: int


def compute_censorship_clock_start(
    oldest_pending_ms: int,
    view_started_ms: int,
    last_full_block_ms: int,
    tx_proposal_timeout_ms: int,
    tx_backlog_timeout_ms: int,
) -> int:
    """Since when the oldest pending tx counts as passed over by the primary.

    A view change starts ``tx_proposal_timeout_ms`` after this. A committed
    full block restarts the count (the primary proposes as much as a block
    holds, so a backlog under load is queueing, not censorship), but never
    beyond ``tx_backlog_timeout_ms`` after the tx arrived: a primary that keeps
    blocks full while passing one tx over is still replaced.
    """
    arrived = max(oldest_pending_ms, view_started_ms)
    excused_until = arrived + tx_backlog_timeout_ms - tx_proposal_timeout_ms
    return max(arrived, min(last_full_block_ms, excused_until))


def are_txs_new(
    txs: Iterable[bytes], committed: Collection[bytes], in_flight: Collection[bytes]
) -> bool:
    """Exactly once: no tx of a proposal was committed (in the window a replica remembers) or
    is in another block accepted in the current view, and none appears twice."""
    txs = tuple(txs)
    hashes = {crypto.sha256(tx) for tx in txs}
    if len(hashes) != len(txs):
        return False
    return not any(h in committed or h in in_flight for h in hashes)
