"""The swap timing rule (docs/settlement.md): numbers, boundaries and refusals."""

from __future__ import annotations

import pytest

from bftx.swap import ChainTiming, SwapTiming, UnsafeSwap

MAINNET = SwapTiming(
    initiator_chain=ChainTiming("bftx", 10_000),
    responder_chain=ChainTiming("ethereum", 900_000),
    clock_drift_ms=15_000,
    reaction_ms=2_000,
)


def test_margin_is_both_finalities_plus_twice_the_drift_plus_reaction() -> None:
    assert MAINNET.margin_ms == 900_000 + 10_000 + 2 * 15_000 + 2_000
    assert MAINNET.responder_window_ms == 2 * 900_000 + 15_000 + 2 * 2_000
    assert MAINNET.reveal_window_ms == 900_000 + 15_000 + 2_000


def test_exact_margin_is_accepted_and_one_ms_less_is_refused() -> None:
    now = 1_000_000
    responder_expiry = now + MAINNET.responder_window_ms
    MAINNET.check_timelocks(responder_expiry + MAINNET.margin_ms, responder_expiry, now)
    with pytest.raises(UnsafeSwap, match="at least 942 s after the responder's"):
        MAINNET.check_timelocks(responder_expiry + MAINNET.margin_ms - 1, responder_expiry, now)


def test_initiator_timelock_ending_first_is_refused() -> None:
    with pytest.raises(UnsafeSwap, match="it ends -60 s after"):
        MAINNET.check_timelocks(1_000_000, 1_060_000, 0)


def test_responder_window_too_short_is_refused() -> None:
    now = 5_000_000
    responder_expiry = now + MAINNET.responder_window_ms - 1
    with pytest.raises(UnsafeSwap, match="so the initiator can still claim"):
        MAINNET.check_timelocks(responder_expiry + MAINNET.margin_ms, responder_expiry, now)


def test_reveal_is_allowed_only_while_the_claim_can_be_final_in_time() -> None:
    expiry = 10_000_000
    assert MAINNET.may_reveal(expiry, expiry - MAINNET.reveal_window_ms)
    assert not MAINNET.may_reveal(expiry, expiry - MAINNET.reveal_window_ms + 1)


def test_plan_keeps_the_margin_and_the_window() -> None:
    initiator_expiry, responder_expiry = MAINNET.plan(0, 1_500, 3_600_000)
    assert responder_expiry == 1_000 + 3_600_000  # whole seconds, rounded down
    assert initiator_expiry % 1000 == 0
    assert initiator_expiry - responder_expiry >= MAINNET.margin_ms
    MAINNET.check_timelocks(initiator_expiry, responder_expiry, 1_500)
    # Ethereum rounds a timelock down to a second: whole seconds keep the margin intact
    MAINNET.check_timelocks(initiator_expiry // 1000 * 1000, responder_expiry, 1_500)
    with pytest.raises(UnsafeSwap, match="window must be at least"):
        MAINNET.plan(0, 0, MAINNET.responder_window_ms - 1)


def test_negative_durations_are_refused() -> None:
    with pytest.raises(ValueError, match="finality_ms"):
        ChainTiming("x", -1)
    with pytest.raises(ValueError, match="clock_drift_ms"):
        SwapTiming(ChainTiming("a", 0), ChainTiming("b", 0), clock_drift_ms=-1, reaction_ms=0)
