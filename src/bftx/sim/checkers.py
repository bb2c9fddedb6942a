"""The simulator's judges: safety, liveness and bounded memory.

Safety: no two honest replicas commit different blocks at one height, every
committed block carries a certificate that `verify_commit_certificate` (the
real verifier, with real signature checks) accepts, and honest state roots
agree at every height. Liveness: once faults heal, every honest replica
commits again before the run ends. Memory: every replica's structures stay
below bounds that do not grow with the length of the run. Checkers only
observe; they never change what a replica does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bftx import limits
from bftx.consensus import Committed, ConsensusConfig, SignatureCheck, verify_commit_certificate
from bftx.consensus.replica import Replica


@dataclass(slots=True)
class SafetyChecker:
    config: ConsensusConfig
    check: SignatureCheck
    committed: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # digest, root
    violations: list[str] = field(default_factory=list)

    def on_committed(self, node: int, output: Committed, now_ms: int) -> None:
        block = output.block
        height = block.height
        if not verify_commit_certificate(
            self.config.validators, output.certificate, block, self.check
        ):
            self._violate(f"t={now_ms}ms node {node}: block {height} has an invalid certificate")
        self._compare(node, height, block.digest, output.state_root, now_ms)

    def on_restored(self, node: int, height: int, state_root: bytes, now_ms: int) -> None:
        known = self.committed.get(height)
        if known is not None and known[1] != state_root:
            self._violate(f"t={now_ms}ms node {node}: restored state at {height} diverges")

    def on_assertion(self, node: int, message: str, now_ms: int) -> None:
        self._violate(f"t={now_ms}ms node {node}: replica stopped on a broken invariant: {message}")

    def on_unjournaled_send(self, node: int, kind: str, now_ms: int) -> None:
        self._violate(
            f"t={now_ms}ms node {node}: sent a {kind} whose journal record is not durable"
        )

    def on_equivocation(self, node: int, kind: str, now_ms: int) -> None:
        self._violate(f"t={now_ms}ms node {node}: signed two different {kind}s for one slot")

    def _compare(self, node: int, height: int, digest: bytes, root: bytes, now_ms: int) -> None:
        known = self.committed.setdefault(height, (digest, root))
        if known[0] != digest:
            self._violate(f"t={now_ms}ms node {node}: conflicting block committed at {height}")
        elif known[1] != root:
            self._violate(f"t={now_ms}ms node {node}: state root differs at {height}")

    def _violate(self, message: str) -> None:
        if len(self.violations) < 20:
            self.violations.append(message)
        else:
            self.violations[-1] = message  # keep the count bounded, the last message visible


def compute_memory_bounds(config: ConsensusConfig, journal_records: int) -> dict[str, int]:
    """Upper bounds on `Replica.compute_memory_footprint`, independent of the run's length."""
    window = config.watermark_window_blocks
    nodes = config.validators.size
    checkpoints = window // config.checkpoint_interval_blocks + 2
    return {
        "slots": window,
        "committed_blocks": window + config.checkpoint_interval_blocks + limits.fetch_blocks_max,
        "snapshots": checkpoints + limits.fetch_blocks_max // config.checkpoint_interval_blocks,
        "checkpoint_votes": 2 * nodes * checkpoints,
        "signed": 3 * window + 2 * (limits.view_ahead_max + 2),
        "view_changes": nodes * (limits.view_ahead_max + 1),
        "suspicions": nodes * (limits.view_ahead_max + 1),
        "pending_txs": limits.pending_txs_max,
        "committed_tx_hashes": limits.pending_txs_max,
        "history": window + limits.fetch_blocks_max + 2 * config.pipeline_depth_blocks + 1,
        "journal_records": journal_records,
    }


def find_memory_violations(
    node: int, replica: Replica, journal_size: int, config: ConsensusConfig
) -> list[str]:
    journal_bound = 4 * config.watermark_window_blocks + 4 * (limits.view_ahead_max + 2) + 8
    bounds = compute_memory_bounds(config, journal_bound)
    footprint = replica.compute_memory_footprint()
    footprint["journal_records"] = journal_size
    return [
        f"node {node}: {name} holds {size} > bound {bounds[name]}"
        for name, size in footprint.items()
        if size > bounds[name]
    ]
