"""Which validators take part in consensus: the last height each one signed a COMMIT for.

A validator that does not sign leaves the network with less fault margin than
it seems to have: with n = 3f + 1, a quorum is 2f + 1, so once fewer than
2f + 2 validators sign, one more fault stops the chain. This module keeps the
last height each validator was seen signing and says when the margin is gone;
the node shows it in ``/v1/status`` and ``/metrics`` and logs a WARNING.

Sources, each authentic: the shares of every commit certificate the node saves
(checked signatures), COMMIT votes a validator sent over its own link (the TLS
link is pinned to that validator's key, and a vote is counted only when its
signer is the link's validator), and this node's own COMMIT votes. A
certificate holds only the first 2f + 1 shares, so the votes are what show a
validator that signs but is seldom in a certificate.

Pure bookkeeping: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# A validator counts as signing when it signed one of the last this-many heights.
SIGNING_WINDOW_BLOCKS = 50


@dataclass(frozen=True, slots=True)
class SigningState:
    signing: tuple[int, ...]  # validators that signed within the window, by index
    not_signing: tuple[int, ...]
    margin: int  # how many more validators may stop before the chain stops (negative: stopped)

    @property
    def is_one_fault_from_stopping(self) -> bool:
        return self.margin <= 0


class SigningMonitor:
    def __init__(self, validator_count: int, window_blocks: int = SIGNING_WINDOW_BLOCKS) -> None:
        assert validator_count >= 1 and window_blocks >= 1
        self.validator_count = validator_count
        self.fault_tolerance = (validator_count - 1) // 3
        self.quorum = 2 * self.fault_tolerance + 1
        self.window_blocks = window_blocks
        self.last_signed: list[int | None] = [None] * validator_count
        self.warned = False  # a warning about the margin is outstanding

    def observe(self, validator: int, height: int) -> None:
        if 0 <= validator < self.validator_count:
            last = self.last_signed[validator]
            if last is None or height > last:
                self.last_signed[validator] = height

    def observe_signers(self, signers: Iterable[int], height: int) -> None:
        for validator in signers:
            self.observe(validator, height)

    def compute_state(self, height: int) -> SigningState:
        """Who signed one of the last `window_blocks` heights up to ``height``."""
        oldest = height - self.window_blocks + 1
        signing = tuple(
            index
            for index, last in enumerate(self.last_signed)
            if last is not None and last >= oldest
        )
        not_signing = tuple(i for i in range(self.validator_count) if i not in signing)
        return SigningState(signing, not_signing, len(signing) - self.quorum)

    def update_warning(self, height: int) -> SigningState | None:
        """The state when the warning should be raised or cleared (once per change), else None.

        Raised only when the window is full of history (``height`` past it), so a
        young chain or a node that just started does not cry wolf, and never for
        a network configured without fault tolerance (fewer than 4 validators).
        """
        if height < self.window_blocks or self.fault_tolerance == 0:
            return None
        state = self.compute_state(height)
        if state.is_one_fault_from_stopping != self.warned:
            self.warned = state.is_one_fault_from_stopping
            return state
        return None
