"""When a pending tx counts as censored: full blocks excuse a backlog, but only for so long."""

from __future__ import annotations

from bftx.consensus.replica import compute_censorship_clock_start

PROPOSAL_MS, BACKLOG_MS = 1_500, 6_000


def deadline(oldest: int, view_started: int, last_full_block: int) -> int:
    """When a replica starts a view change over the oldest pending tx."""
    start = compute_censorship_clock_start(
        oldest, view_started, last_full_block, PROPOSAL_MS, BACKLOG_MS
    )
    return start + PROPOSAL_MS


def test_a_tx_passed_over_while_blocks_are_not_full_is_censored_after_the_proposal_timeout() -> (
    None
):
    assert deadline(oldest=10_000, view_started=0, last_full_block=0) == 11_500


def test_the_clock_starts_with_the_view_for_txs_older_than_the_view() -> None:
    assert deadline(oldest=10_000, view_started=12_000, last_full_block=0) == 13_500


def test_full_blocks_excuse_a_backlog() -> None:
    assert deadline(oldest=10_000, view_started=0, last_full_block=11_000) == 12_500


def test_full_blocks_never_excuse_a_tx_for_longer_than_the_backlog_timeout() -> None:
    """A primary that keeps every block full while passing one tx over is still replaced."""
    for last_full_block in (15_000, 16_000, 60_000, 10**9):
        assert deadline(oldest=10_000, view_started=0, last_full_block=last_full_block) == 16_000
