"""The timing rule of an atomic swap, and the refusal of unsafe timelocks.

Names: the *initiator* makes the secret and locks first, on chain A, until
``initiator_expiry_ms`` (T_I). The *responder* locks second, on chain B, until
``responder_expiry_ms`` (T_R). Each chain judges an expiry by its own block
timestamps. For each chain, ``finality_ms`` is how long a submitted tx takes
to be final there; ``clock_drift_ms`` bounds how far either chain's block
timestamps may be from true time; ``reaction_ms`` is how long a watcher takes
to notice a change (its poll interval) and act.

The rule (docs/settlement.md, "Atomic swaps with Ethereum"):

1. ``T_I - T_R >= margin`` where
   ``margin = finality(B) + finality(A) + 2 * clock_drift + reaction``.
   The initiator may reveal the secret on B as late as just before T_R; the
   responder trusts the reveal once it is final on B, then needs its own claim
   to be final on A before T_I, and the two chains' clocks may disagree by
   twice the drift. With this margin the responder can always claim.
2. The responder locks only if its lock leaves the initiator a window:
   ``T_R - now(B) >= 2 * finality(B) + clock_drift + 2 * reaction`` (its lock
   becomes final, the initiator notices, claims, and that claim is final).
3. The initiator reveals the secret only while its claim can be final before
   T_R: ``T_R - now(B) >= finality(B) + clock_drift + reaction``. Past that it
   keeps the secret and refunds at T_I, so a late reveal never hands the
   responder both legs.

All functions here are pure: they take clock readings as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

from bftx.errors import BftxError


class UnsafeSwap(BftxError, ValueError):
    """Timelocks or terms that could lose one party its funds; the message says which rule."""


@dataclass(frozen=True, slots=True)
class ChainTiming:
    """How quickly one chain makes a tx final, in ms."""

    name: str
    finality_ms: int

    def __post_init__(self) -> None:
        if self.finality_ms < 0:
            raise ValueError(f"{self.name}: finality_ms must be zero or more")


@dataclass(frozen=True, slots=True)
class SwapTiming:
    """Both chains' finality and the bounds every check uses."""

    initiator_chain: ChainTiming  # chain A, where the initiator locks
    responder_chain: ChainTiming  # chain B, where the responder locks
    clock_drift_ms: int
    reaction_ms: int

    def __post_init__(self) -> None:
        if self.clock_drift_ms < 0 or self.reaction_ms < 0:
            raise ValueError("clock_drift_ms and reaction_ms must be zero or more")

    @property
    def margin_ms(self) -> int:
        """Rule 1: the least T_I - T_R."""
        return (
            self.responder_chain.finality_ms
            + self.initiator_chain.finality_ms
            + 2 * self.clock_drift_ms
            + self.reaction_ms
        )

    @property
    def responder_window_ms(self) -> int:
        """Rule 2: the least T_R - now(B) when the responder locks."""
        return 2 * self.responder_chain.finality_ms + self.clock_drift_ms + 2 * self.reaction_ms

    @property
    def reveal_window_ms(self) -> int:
        """Rule 3: the least T_R - now(B) when the initiator reveals the secret."""
        return self.responder_chain.finality_ms + self.clock_drift_ms + self.reaction_ms

    def check_timelocks(
        self, initiator_expiry_ms: int, responder_expiry_ms: int, now_b_ms: int
    ) -> None:
        """Rules 1 and 2 for a responder about to lock (or an initiator proposing terms)."""
        gap = initiator_expiry_ms - responder_expiry_ms
        if gap < self.margin_ms:
            raise UnsafeSwap(
                f"the initiator's timelock must end at least {_seconds(self.margin_ms)} after the "
                f"responder's (finality on {self.responder_chain.name} "
                f"{_seconds(self.responder_chain.finality_ms)} + on {self.initiator_chain.name} "
                f"{_seconds(self.initiator_chain.finality_ms)} + 2 x clock drift "
                f"{_seconds(self.clock_drift_ms)} + reaction {_seconds(self.reaction_ms)}); "
                f"it ends {_seconds(gap)} after"
            )
        window = responder_expiry_ms - now_b_ms
        if window < self.responder_window_ms:
            raise UnsafeSwap(
                f"the responder's timelock must end at least {_seconds(self.responder_window_ms)} "
                f"from now on {self.responder_chain.name} (2 x finality + clock drift + "
                f"2 x reaction), so the initiator can still claim; it ends in {_seconds(window)}"
            )

    def may_reveal(self, responder_expiry_ms: int, now_b_ms: int) -> bool:
        """Rule 3: whether the initiator's claim on B can still be final before T_R."""
        return responder_expiry_ms - now_b_ms >= self.reveal_window_ms

    def plan(self, now_a_ms: int, now_b_ms: int, responder_window_ms: int) -> tuple[int, int]:
        """Timelocks (T_I, T_R) that give the responder ``responder_window_ms`` from now on B
        and keep at least the margin between them. ``responder_window_ms`` covers the time
        the initiator's lock needs to be final and seen, plus the responder's own window.
        Both are whole seconds (T_R rounded down, T_I up): Ethereum timelocks are seconds,
        so rounding there never eats into the margin."""
        if responder_window_ms < self.responder_window_ms:
            raise UnsafeSwap(
                f"the responder's window must be at least {_seconds(self.responder_window_ms)}"
            )
        responder_expiry = (now_b_ms + responder_window_ms) // 1000 * 1000
        initiator_expiry = max(
            responder_expiry + self.margin_ms,
            now_a_ms + responder_window_ms + self.margin_ms,
        )
        return -(-initiator_expiry // 1000) * 1000, responder_expiry


def _seconds(milliseconds: int) -> str:
    return f"{milliseconds / 1000:g} s"
