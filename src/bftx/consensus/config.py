"""Protocol parameters every validator of one chain must share.

The defaults come from `bftx.limits`. This module owns the record and its
consistency checks; it never reads files (the node layer builds it from
genesis).
"""

from __future__ import annotations

from dataclasses import dataclass

from bftx import limits
from bftx.consensus.certificates import ValidatorSet


@dataclass(frozen=True, slots=True)
class ConsensusConfig:
    validators: ValidatorSet
    pipeline_depth_blocks: int = limits.pipeline_depth_blocks
    checkpoint_interval_blocks: int = limits.checkpoint_interval_blocks
    watermark_window_blocks: int = limits.watermark_window_blocks
    block_interval_ms: int = limits.block_interval_ms
    # With no tx to propose, an empty block only this long after the last commit (a liveness
    # heartbeat, under the view timeout); 0 proposes one every block interval regardless.
    idle_block_interval_ms: int = 0
    view_timeout_ms: int = limits.view_timeout_ms
    view_timeout_ms_max: int = limits.view_timeout_ms_max
    tx_proposal_timeout_ms: int = limits.tx_proposal_timeout_ms
    tx_backlog_timeout_ms: int = limits.tx_backlog_timeout_ms
    clock_skew_ms_max: int = limits.clock_skew_ms_max
    retransmit_interval_ms: int = limits.retransmit_interval_ms
    fetch_interval_ms: int = limits.fetch_interval_ms
    txs_per_block_max: int = 1_024

    def __post_init__(self) -> None:
        assert self.validators.size <= limits.validators_max
        assert 1 <= self.pipeline_depth_blocks <= limits.pipeline_depth_blocks
        assert self.checkpoint_interval_blocks >= self.pipeline_depth_blocks
        assert self.watermark_window_blocks >= 2 * self.checkpoint_interval_blocks
        assert self.watermark_window_blocks <= limits.watermark_window_blocks
        assert self.view_timeout_ms <= self.view_timeout_ms_max
        assert self.tx_proposal_timeout_ms <= self.tx_backlog_timeout_ms
        assert 0 <= self.idle_block_interval_ms < self.view_timeout_ms
        assert 1 <= self.txs_per_block_max <= limits.txs_per_block_max

    @property
    def chain_id(self) -> str:
        return self.validators.chain_id
