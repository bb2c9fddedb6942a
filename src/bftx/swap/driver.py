"""The swap protocol for one party, and the watcher that carries it to the end.

A `SwapDriver` holds one party's `SwapState`, its own leg (the chain where it
locks) and the other leg (the chain where it claims). `step()` looks at both
chains once, as far as they are final, and does at most the next action;
every transition is saved before and after the action, so a watcher that is
killed at any point and started again from the state file (`resume`) goes on
where it was and never locks twice (a lock is looked up by its terms first).

The initiator: make the secret, lock on A until T_I; when the responder's
lock on B is final and matches the terms, claim it (revealing the secret) if
timing rule 3 allows, else keep the secret; refund on A from T_I on if it
never claimed. The responder: check the initiator's final lock and timing
rules 1 and 2, lock on B until T_R; when the secret shows on B, claim on A;
refund on B from T_R on if it never showed. The rules: `bftx.swap.timing`.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from bftx.errors import BftxError
from bftx.swap.legs import Leg, LockStatus, LockView
from bftx.swap.state import Phase, Role, SwapState, Terms, save_state
from bftx.swap.timing import SwapTiming, UnsafeSwap

Listener = Callable[[str], None]


class SwapDriver:
    def __init__(
        self,
        state: SwapState,
        own_leg: Leg,
        other_leg: Leg,
        timing: SwapTiming,
        *,
        path: Path | None = None,
        on_event: Listener | None = None,
    ) -> None:
        self.state = state
        self.own_leg = own_leg
        self.other_leg = other_leg
        self.timing = timing
        self.path = path
        self.on_event = on_event

    # ---- starting a swap ------------------------------------------------------------------

    @classmethod
    def initiate(
        cls,
        *,
        own_leg: Leg,
        other_leg: Leg,
        timing: SwapTiming,
        amount: int,
        counterparty_receiver: str,
        counterparty_sender: str,
        counterparty_amount: int,
        responder_window_ms: int,
        path: Path | None = None,
        on_event: Listener | None = None,
        secret: bytes | None = None,
    ) -> SwapDriver:
        """A new swap as its initiator: the secret is made and saved before anything is sent.
        ``responder_window_ms`` is how long, from now, the responder's lock may stay open."""
        if amount <= 0 or counterparty_amount <= 0:
            raise UnsafeSwap("both amounts must be positive")
        secret = secret if secret is not None else os.urandom(32)
        if len(secret) != 32:
            raise UnsafeSwap("the secret must be 32 bytes")
        now_a, now_b = _rule_now(own_leg), _rule_now(other_leg)
        initiator_expiry, responder_expiry = timing.plan(now_a, now_b, responder_window_ms)
        terms = Terms(
            hashlock=hashlib.sha256(secret).digest(),
            initiator_chain=own_leg.chain,
            initiator_asset=own_leg.asset,
            initiator_amount=amount,
            initiator_sender=own_leg.address,
            initiator_receiver=_address(own_leg, counterparty_receiver, "the responder's address"),
            initiator_expiry_ms=initiator_expiry,
            responder_chain=other_leg.chain,
            responder_asset=other_leg.asset,
            responder_amount=counterparty_amount,
            responder_sender=_address(other_leg, counterparty_sender, "the responder's address"),
            responder_receiver=other_leg.address,
            responder_expiry_ms=responder_expiry,
        )
        state = SwapState(role=Role.INITIATOR, terms=terms, secret=secret)
        driver = cls(state, own_leg, other_leg, timing, path=path, on_event=on_event)
        driver._record(
            f"initiated: {_amount(own_leg, amount)} on {own_leg.chain} for "
            f"{_amount(other_leg, counterparty_amount)} on {other_leg.chain}; timelocks: "
            f"T_I in {(initiator_expiry - now_a) / 1000:g} s on {own_leg.chain}, "
            f"T_R in {(responder_expiry - now_b) / 1000:g} s on {other_leg.chain}"
        )
        return driver

    @classmethod
    def respond(
        cls,
        offer: Terms,
        *,
        own_leg: Leg,
        other_leg: Leg,
        timing: SwapTiming,
        path: Path | None = None,
        on_event: Listener | None = None,
    ) -> SwapDriver:
        """Accept an offer as its responder, after checking it names this party, that the
        initiator's lock is final and matches it, and that its timelocks are safe. Raises
        `UnsafeSwap` (nothing is sent) otherwise."""
        if offer.initiator_lock_id is None:
            raise UnsafeSwap("the offer names no initiator lock: the initiator has not locked")
        if (offer.initiator_chain, offer.responder_chain) != (other_leg.chain, own_leg.chain):
            raise UnsafeSwap(
                f"the offer is {offer.initiator_chain} -> {offer.responder_chain}, this party "
                f"locks on {own_leg.chain} and claims on {other_leg.chain}"
            )
        if _address(own_leg, offer.responder_sender, "the offer's responder") != own_leg.address:
            raise UnsafeSwap(f"the offer is for responder {offer.responder_sender}, not this key")
        _address(own_leg, offer.responder_receiver, "the offer's receiver")
        if offer.responder_asset != own_leg.asset:
            raise UnsafeSwap(
                f"the offer asks for {offer.responder_asset}, this leg holds {own_leg.asset}"
            )
        state = SwapState(
            role=Role.RESPONDER, terms=offer, counterparty_lock_id=offer.initiator_lock_id
        )
        driver = cls(state, own_leg, other_leg, timing, path=path, on_event=on_event)
        driver._check_offer()
        driver._record(
            f"accepted: {_amount(other_leg, offer.initiator_amount)} on {other_leg.chain} "
            f"(lock {_short(offer.initiator_lock_id)}) for {_amount(own_leg, offer.responder_amount)} "
            f"on {own_leg.chain}"
        )
        return driver

    @classmethod
    def resume(
        cls,
        state: SwapState,
        *,
        own_leg: Leg,
        other_leg: Leg,
        timing: SwapTiming,
        path: Path | None = None,
        on_event: Listener | None = None,
    ) -> SwapDriver:
        """Go on with a saved swap (after a restart)."""
        driver = cls(state, own_leg, other_leg, timing, path=path, on_event=on_event)
        driver._record(f"resumed in phase {state.phase.value}")
        return driver

    # ---- the watcher ----------------------------------------------------------------------

    @property
    def done(self) -> bool:
        return self.state.phase.is_final

    def run(
        self,
        *,
        poll_s: float,
        timeout_s: float,
        on_poll: Callable[[], None] | None = None,
    ) -> Phase:
        """Step until the swap is over for this party, or ``timeout_s`` passed. A failed chain
        call is noted and tried again at the next poll."""
        deadline = time.monotonic() + timeout_s
        while not self.done:
            if on_poll is not None:
                on_poll()
            try:
                self.step()
            except UnsafeSwap:
                raise
            except (BftxError, OSError) as error:
                self._record_once(f"will retry: {error}")
            if self.done:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the swap is still {self.state.phase.value} after {timeout_s:g} s"
                )
            time.sleep(poll_s)
        return self.state.phase

    def step(self) -> Phase:
        """Look at both chains once and take the next action, if any."""
        if self.state.role is Role.INITIATOR:
            self._step_initiator()
        else:
            self._step_responder()
        return self.state.phase

    # ---- the initiator --------------------------------------------------------------------

    def _step_initiator(self) -> None:
        terms = self.state.terms
        phase = self.state.phase
        if phase in (Phase.NEW, Phase.LOCKING):
            self._lock(terms.initiator_receiver, terms.initiator_expiry_ms, terms.initiator_amount)
            return
        if phase is not Phase.LOCKED:
            return
        own = self._own_lock()
        if own.status is LockStatus.REFUNDED:
            self._transition(Phase.REFUNDED, "own lock was refunded")
            return
        if own.status is LockStatus.OPEN and self.own_leg.now_ms() >= terms.initiator_expiry_ms:
            self._refund(own)
            return
        counter = self._find_counterparty_lock()
        if counter is None:
            return
        if counter.status is LockStatus.CLAIMED:
            self._transition(Phase.CLAIMED, "the responder's lock is already claimed")
            return
        if counter.status is LockStatus.REFUNDED:
            self._record_once("the responder's lock was refunded: waiting for T_I to refund")
            return
        problem = self._mismatch(counter)
        if problem is not None:
            self._record_once(f"ignoring the responder's lock {_short(counter.lock_id)}: {problem}")
            return
        if not self.timing.may_reveal(terms.responder_expiry_ms, _rule_now(self.other_leg)):
            self._record_once(
                "too late to reveal the secret (timing rule 3): keeping it, refund at T_I"
            )
            return
        assert self.state.secret is not None
        self._record(
            f"claiming the responder's lock {_short(counter.lock_id)} (reveals the secret)"
        )
        self.other_leg.claim(counter.lock_id, self.state.secret)
        self._transition(
            Phase.CLAIMED,
            f"claimed {_amount(self.other_leg, counter.amount)} on {self.other_leg.chain}",
        )

    def _find_counterparty_lock(self) -> LockView | None:
        terms = self.state.terms
        if self.state.counterparty_lock_id is not None:
            return self.other_leg.find_lock(self.state.counterparty_lock_id)
        found = self.other_leg.find_lock_for(
            terms.responder_sender,
            terms.responder_receiver,
            terms.hashlock,
            terms.responder_amount,
            terms.responder_expiry_ms,
        )
        if found is not None:
            self.state.counterparty_lock_id = found.lock_id
            self._record(f"the responder's lock {_short(found.lock_id)} is final")
        return found

    def accept_counterparty_lock(self, lock_id: str) -> None:
        """Name the responder's lock (where its chain cannot look it up by its terms)."""
        self.state.counterparty_lock_id = lock_id
        self._record(f"told of the responder's lock {_short(lock_id)}")

    def _mismatch(self, counter: LockView) -> str | None:
        terms = self.state.terms
        leg = self.other_leg
        expected = (
            leg.normalize_address(terms.responder_receiver),
            terms.hashlock,
            terms.responder_asset,
        )
        if (leg.normalize_address(counter.receiver), counter.hashlock, counter.asset) != expected:
            return "its receiver, hashlock or asset differs from the terms"
        if counter.amount < terms.responder_amount:
            return f"it holds {counter.amount}, the terms say {terms.responder_amount}"
        if counter.expiry_ms > terms.responder_expiry_ms:
            return "it expires later than the terms allow (timing rule 1)"
        return None

    # ---- the responder --------------------------------------------------------------------

    def _step_responder(self) -> None:
        terms = self.state.terms
        phase = self.state.phase
        if phase in (Phase.NEW, Phase.LOCKING):
            self._lock(
                terms.responder_receiver,
                terms.responder_expiry_ms,
                terms.responder_amount,
                check=self._check_offer,
            )
            return
        if phase is not Phase.LOCKED:
            return
        own = self._own_lock()
        preimage = self.state.secret or own.preimage or self.own_leg.revealed_preimage(own.lock_id)
        if preimage is not None and hashlib.sha256(preimage).digest() == terms.hashlock:
            self._claim_with(preimage)
            return
        if own.status is LockStatus.REFUNDED:
            self._transition(Phase.REFUNDED, "own lock was refunded")
            return
        if own.status is LockStatus.OPEN and self.own_leg.now_ms() >= terms.responder_expiry_ms:
            self._refund(own)

    def _claim_with(self, preimage: bytes) -> None:
        if self.state.secret is None:
            self.state.secret = preimage
            self._record(f"the secret was revealed on {self.own_leg.chain}")
        lock_id = self.state.counterparty_lock_id
        assert lock_id is not None
        counter = self.other_leg.find_lock(lock_id)
        if counter is not None and counter.status is LockStatus.CLAIMED:
            self._transition(Phase.CLAIMED, "the initiator's lock is claimed")
            return
        self._record(f"claiming the initiator's lock {_short(lock_id)} with the secret")
        self.other_leg.claim(lock_id, preimage)
        self._transition(
            Phase.CLAIMED,
            f"claimed {_amount(self.other_leg, self.state.terms.initiator_amount)} on "
            f"{self.other_leg.chain}",
        )

    def _check_offer(self) -> None:
        terms = self.state.terms
        assert terms.initiator_lock_id is not None
        lock = self.other_leg.find_lock(terms.initiator_lock_id)
        if lock is None:
            raise UnsafeSwap(
                f"the initiator's lock {_short(terms.initiator_lock_id)} is not final on "
                f"{self.other_leg.chain}"
            )
        leg = self.other_leg
        if lock.status is not LockStatus.OPEN:
            raise UnsafeSwap(f"the initiator's lock is {lock.status.value}, not open")
        if leg.normalize_address(lock.receiver) != leg.normalize_address(leg.address):
            raise UnsafeSwap(f"the initiator's lock pays {lock.receiver}, not this party")
        if lock.hashlock != terms.hashlock or lock.asset != terms.initiator_asset:
            raise UnsafeSwap("the initiator's lock has another hashlock or asset than the offer")
        if lock.amount < terms.initiator_amount:
            raise UnsafeSwap(
                f"the initiator's lock holds {lock.amount}, the offer says {terms.initiator_amount}"
            )
        # Rule 1 is checked against the lock as it is on chain, not as the offer claims.
        self.timing.check_timelocks(
            lock.expiry_ms, terms.responder_expiry_ms, _rule_now(self.own_leg)
        )

    # ---- shared steps ---------------------------------------------------------------------

    def _lock(
        self,
        receiver: str,
        expiry_ms: int,
        amount: int,
        check: Callable[[], None] | None = None,
    ) -> None:
        """Send this party's lock once; ``check`` (the responder's offer check) runs right
        before sending, so a watcher back from a long downtime never locks too late."""
        terms = self.state.terms
        if self.state.phase is Phase.LOCKING:
            found = self.own_leg.find_lock_for(
                self.own_leg.address, receiver, terms.hashlock, amount, expiry_ms
            )
            if found is not None:
                self._locked(found.lock_id)
                return
            if self.state.own_lock_id is not None:
                if self.own_leg.find_lock(self.state.own_lock_id) is not None:
                    self._locked(self.state.own_lock_id)
                return  # sent, not final yet: wait rather than lock twice
        if check is not None:
            try:
                check()
            except UnsafeSwap as error:
                self._transition(Phase.ABANDONED, f"not locking: {error}")
                return
        self._transition(
            Phase.LOCKING, f"locking {_amount(self.own_leg, amount)} on {self.own_leg.chain}"
        )
        lock_id = self.own_leg.lock(receiver, terms.hashlock, expiry_ms, amount)
        self.state.own_lock_id = lock_id
        self.save()
        if self.own_leg.find_lock(lock_id) is not None:
            self._locked(lock_id)

    def _locked(self, lock_id: str) -> None:
        self.state.own_lock_id = lock_id
        if self.state.role is Role.INITIATOR:
            self.state.terms = self.state.terms.with_initiator_lock(lock_id)
        self._transition(
            Phase.LOCKED, f"own lock {_short(lock_id)} is final on {self.own_leg.chain}"
        )

    def _own_lock(self) -> LockView:
        assert self.state.own_lock_id is not None
        own = self.own_leg.find_lock(self.state.own_lock_id)
        if own is None:
            raise BftxError(f"own lock {self.state.own_lock_id} is not on {self.own_leg.chain}")
        return own

    def _refund(self, own: LockView) -> None:
        self._record(f"own lock {_short(own.lock_id)} expired: refunding")
        self.own_leg.refund(own.lock_id)
        self._transition(
            Phase.REFUNDED, f"refunded {_amount(self.own_leg, own.amount)} on {self.own_leg.chain}"
        )

    def _transition(self, phase: Phase, message: str) -> None:
        self.state.phase = phase
        self._record(message)

    def _record_once(self, message: str) -> None:
        """Record a waiting condition once, not at every poll."""
        if not self.state.log or self.state.log[-1]["event"] != message:
            self._record(message)

    def _record(self, message: str) -> None:
        self.state.note(message)
        self.save()
        if self.on_event is not None:
            self.on_event(message)

    def save(self) -> None:
        """Write the state file now (if the driver has one)."""
        if self.path is not None:
            save_state(self.state, self.path)


def _rule_now(leg: Leg) -> int:
    """The chain's time for the timing rules: its latest final block's timestamp, or this
    machine's clock if that is later. The next block (which will hold our tx) is stamped
    around now, not when the last one was, so a chain that has been idle must not make a
    reveal or a lock look earlier than it is. Refunds wait for the chain's own time."""
    return max(leg.now_ms(), int(time.time() * 1000))


def _address(leg: Leg, address: str, what: str) -> str:
    try:
        return leg.normalize_address(address)
    except ValueError as error:
        raise UnsafeSwap(f"{what} on {leg.chain}: {error}") from error


def _amount(leg: Leg, amount: int) -> str:
    from decimal import Decimal

    return f"{Decimal(amount).scaleb(-leg.decimals).normalize():f} {leg.asset}"


def _short(lock_id: str) -> str:
    return lock_id[:12] + "…"
