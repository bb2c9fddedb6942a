"""Timer rules: how long a replica waits before it suspects its view.

Pure functions of the configuration and the replica's counters; `Replica`
arms its timers from them (`SetTimer` outputs) and takes ``now`` as an
argument. Nothing here reads a clock.
"""

from __future__ import annotations

from bftx.consensus.config import ConsensusConfig


def compute_view_timeout_ms(config: ConsensusConfig, failed_view_changes: int) -> int:
    """The view timeout doubles per failed view change in a row, up to the maximum."""
    timeout = config.view_timeout_ms << min(failed_view_changes, 16)
    return min(timeout, config.view_timeout_ms_max)


def compute_progress_deadline_ms(
    config: ConsensusConfig,
    failed_view_changes: int,
    progress_ms: int,
    censorship_clock_start_ms: int | None,
    suspected_ms: int | None,
) -> int:
    """When a replica in the normal case suspects its view: no progress for the view timeout,
    or a pending tx passed over for `tx_proposal_timeout_ms`; once it suspected, a timeout
    after that (to repeat the SUSPECT)."""
    timeout = compute_view_timeout_ms(config, failed_view_changes)
    deadline = progress_ms + timeout
    if censorship_clock_start_ms is not None:
        deadline = min(deadline, censorship_clock_start_ms + config.tx_proposal_timeout_ms)
    if suspected_ms is not None:
        deadline = max(deadline, suspected_ms + timeout)
    return deadline
