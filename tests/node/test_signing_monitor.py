"""The signing monitor: who signs, the fault margin, and one warning per change."""

from __future__ import annotations

from bftx.node.signing import SigningMonitor


def test_every_validator_signing_leaves_a_margin_of_f() -> None:
    monitor = SigningMonitor(4, window_blocks=10)
    for height in range(1, 21):
        monitor.observe_signers(range(4), height)
    state = monitor.compute_state(20)
    assert state.signing == (0, 1, 2, 3) and state.not_signing == ()
    assert state.margin == 1 and not state.is_one_fault_from_stopping
    assert monitor.update_warning(20) is None


def test_a_validator_silent_for_the_window_is_not_signing_and_warns_once() -> None:
    monitor = SigningMonitor(4, window_blocks=10)
    for height in range(1, 31):
        monitor.observe_signers([0, 1, 2] if height > 5 else [0, 1, 2, 3], height)
        warning = monitor.update_warning(height)
        if height == 15:  # validator 3 last signed height 5: out of the window from 15 on
            assert warning is not None and warning.not_signing == (3,)
            assert warning.is_one_fault_from_stopping and warning.margin == 0
        else:
            assert warning is None, height
    assert monitor.last_signed == [30, 30, 30, 5]
    monitor.observe(3, 31)
    cleared = monitor.update_warning(31)
    assert cleared is not None and not cleared.is_one_fault_from_stopping


def test_no_warning_before_the_window_fills_nor_without_fault_tolerance() -> None:
    young = SigningMonitor(4, window_blocks=10)
    young.observe_signers([0, 1, 2], 5)
    assert young.update_warning(5) is None
    single = SigningMonitor(1, window_blocks=2)
    for height in range(1, 10):
        single.observe(0, height)
        assert single.update_warning(height) is None


def test_out_of_range_signers_and_older_heights_change_nothing() -> None:
    monitor = SigningMonitor(4)
    monitor.observe(2, 9)
    monitor.observe(2, 7)
    monitor.observe(7, 100)
    monitor.observe(-1, 100)
    assert monitor.last_signed == [None, None, 9, None]
