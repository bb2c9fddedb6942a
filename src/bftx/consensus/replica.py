"""The PBFT replica: one validator's consensus state and every transition of it.

`Replica` is sans-IO (h11, aioquic): each public method takes one input and
``now`` (integer milliseconds on this replica's clock) and returns the outputs
the runtime must execute (`bftx.consensus.outputs`). It owns the protocol
state: view, log of slots inside the watermark window, checkpoints, view
changes, the pending txs and what this replica has signed. It must never
perform I/O, read a clock, draw randomness or import an application; time
arrives as ``now`` and the application behind the `Application` protocol.

Every incoming message is checked in a fixed order before it touches state:
signer is a validator, view, sequence window, shape and digest, signature.
A rejected message is dropped and counted by reason in `dropped`.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence

from bftx import crypto, limits
from bftx.consensus.application import CHECK_TX_OK, Application
from bftx.consensus.certificates import (
    SignatureCheck,
    ValidatorSet,
    verify_checkpoint_proof,
    verify_commit_certificate,
)
from bftx.consensus.certified import ChainRules, apply_certified_block
from bftx.consensus.config import ConsensusConfig
from bftx.consensus.journal import (
    COMMIT_KEY,
    NEW_VIEW_KEY,
    PRE_PREPARE_KEY,
    PREPARE_KEY,
    VIEW_CHANGE_KEY,
)
from bftx.consensus.messages import (
    Block,
    BlockHeader,
    Body,
    CertifiedBlock,
    Checkpoint,
    CheckpointProof,
    CheckpointTransfer,
    Commit,
    CommitCertificate,
    FetchReply,
    FetchRequest,
    HistoryEntry,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    SignatureShare,
    SignedMessage,
    Suspect,
    ViewChange,
    compute_genesis_hash,
    compute_history_digest,
    compute_signing_payload,
    create_block,
    decode_message,
)
from bftx.consensus.outputs import (
    Broadcast,
    Committed,
    JournalRecord,
    Output,
    Persist,
    PreparedRecord,
    PruneRecord,
    Send,
    SetTimer,
    SignedRecord,
    StateRestored,
    TimerKind,
    ViewInstalled,
    ViewRecord,
)
from bftx.consensus.policy import HONEST, MutantPolicy
from bftx.consensus.pool import PendingTx, are_txs_new, compute_censorship_clock_start
from bftx.consensus.quorums import (
    Slot,
    compute_first_shares,
    is_prepared,
)
from bftx.consensus.timers import compute_progress_deadline_ms, compute_view_timeout_ms
from bftx.consensus.view_change import compute_reproposals, is_structurally_valid_view_change
from bftx.errors import DecodeError


class Status(enum.Enum):
    NORMAL = "normal"
    VIEW_CHANGING = "view-changing"


class _Wait(enum.Enum):
    ANCHOR_NOT_EXECUTED = "anchor-not-executed"


class Replica:
    """One validator's PBFT state machine. See the module docstring for the rules."""

    def __init__(
        self,
        config: ConsensusConfig,
        replica_id: int,
        key: crypto.KeyPair,
        application: Application,
        policy: MutantPolicy = HONEST,
        signature_check: SignatureCheck = crypto.verify,
    ) -> None:
        validators = config.validators
        assert validators.is_validator(replica_id)
        assert validators.public_keys[replica_id] == key.public_key, "key is not this validator's"
        self.config = config
        self.validators: ValidatorSet = validators
        self.replica_id = replica_id
        self._key = key
        self.application = application
        self.policy = policy
        self._signature_check = signature_check
        self.quorum = policy.quorum_override or validators.quorum
        self.weak_quorum = validators.fault_tolerance + 1  # at least one honest member
        self.chain_rules = ChainRules(
            validators, config.pipeline_depth_blocks, self._check(), self.quorum
        )

        self.view = 0
        self.status = Status.NORMAL
        self.view_change_target = 0
        self.new_view_message: SignedMessage | None = None

        self.stable_proof: CheckpointProof | None = None
        self.stable_seq = 0
        self.last_executed = 0
        genesis = HistoryEntry(
            0, compute_genesis_hash(config.chain_id), application.state_root(), 0
        )
        self.history: dict[int, HistoryEntry] = {0: genesis}
        self.slots: dict[int, Slot] = {}
        self.committed: dict[int, CertifiedBlock] = {}  # above the stable checkpoint
        self.snapshots: dict[int, tuple[bytes, tuple[HistoryEntry, ...]]] = {}
        self.checkpoint_votes: dict[int, dict[Checkpoint, dict[int, SignatureShare]]] = {}
        self.signers_ahead: dict[int, int] = {}  # signer -> highest seq seen above our window
        self.own_checkpoint: SignedMessage | None = None
        self.signed: dict[tuple[int, int, int], SignedMessage] = {}
        self.view_changes: dict[int, dict[int, SignedMessage]] = {}
        self.suspicions: dict[int, dict[int, SignatureShare]] = {}  # view -> signer -> SUSPECT
        self.suspected_ms: int | None = None  # when this replica last suspected its view
        # Per validator, the highest height whose COMMIT from it reached this replica.
        self.last_signed_heights: list[int] = [0] * validators.size
        # Fully validated VIEW-CHANGEs by (signer, signature): a NEW-VIEW repeats them.
        self.valid_view_changes: dict[tuple[int, bytes], SignedMessage] = {}
        self.pending_txs: dict[bytes, PendingTx] = {}
        self.committed_tx_hashes: dict[bytes, None] = {}
        self.in_flight_tx_hashes: set[bytes] = set()
        # Pending txs in no block this replica accepted in this view, oldest first (hash ->
        # when admitted): the censorship clock runs on these. A proposed tx that is slow to
        # commit is the stall timer's business, not a sign the primary passed it over.
        self.unproposed_txs: dict[bytes, int] = {}
        # The oldest of them and since when it has been the oldest: a primary proposing in
        # arrival order keeps moving it on, however long the queue; one that passes a tx over
        # leaves it there, and the censorship clock runs from then.
        self.unproposed_head: tuple[bytes, int] | None = None

        self.next_seq = 1
        self.view_started_ms = 0
        self.last_progress_ms = 0
        self.last_full_block_ms = 0  # when the last block with txs_per_block_max txs executed
        self.last_fetch_ms = -(10**12)
        self.fetch_rotation = 0
        self.failed_view_changes = 0
        self.last_served_fetch_ms: dict[int, int] = {}
        self.timers: dict[TimerKind, int] = {}
        self._armed_for: tuple[object, ...] = ()
        self.dropped: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self._outputs: list[Output] = []
        self._signing: dict[tuple[int, int, int], SignedMessage] = {}  # signed during this call

    # --- public inputs ------------------------------------------------------------

    def start(
        self,
        now: int,
        journal: Sequence[JournalRecord] = (),
        executed: Sequence[HistoryEntry] = (),
    ) -> list[Output]:
        """Begin, or resume after a crash.

        ``journal`` holds the records this replica persisted. ``executed`` is the
        tail of the chain the node's store already applied to the application
        passed to the constructor (the `history` of the last pipeline-depth
        `Committed` outputs, or of a `StateRestored`), oldest first; empty for
        an application at genesis.
        """
        self._begin()
        self.view_started_ms = now
        self.last_progress_ms = now
        if executed:
            self._resume_executed(executed)
        if journal:
            self._restore(journal, now)
        self._arm_timers(now)
        return self._take()

    def resume(self, history: Sequence[HistoryEntry]) -> None:
        """Before `start`: the application already executed the blocks up to ``history[-1]``.

        A node restarted from its store calls this with the entries of its
        last pipeline-depth executed blocks (oldest first), so the replica
        continues from there instead of fetching the whole chain again.
        """
        assert history and self.last_executed == 0, "resume once, before start"
        self._resume_executed(history)  # the same path as start(..., executed=history)

    def on_message(self, message: SignedMessage, now: int) -> list[Output]:
        self._begin()
        self._dispatch(message, now)
        self._arm_timers(now)
        return self._take()

    def on_bytes(self, data: bytes, now: int) -> list[Output]:
        """Wire bytes from a peer: decode strictly, then handle as `on_message`."""
        try:
            message = decode_message(data, self.config.chain_id)
        except DecodeError:
            self.dropped["malformed"] += 1
            return []
        return self.on_message(message, now)

    def on_client_tx(self, tx: bytes, now: int) -> list[Output]:
        """A tx from a client or the mempool: admit it to the pending pool for proposal."""
        return self.on_client_txs((tx,), now)

    def on_client_txs(self, txs: Sequence[bytes], now: int) -> list[Output]:
        """Many client txs at once (`on_client_tx` for each, timers armed once)."""
        self._begin()
        added = False
        for tx in txs:
            added = self._add_pending_tx(tx, now) or added
        if added:
            self._arm_timers(now)
        return self._take()

    def _add_pending_tx(self, tx: bytes, now: int) -> bool:
        tx_hash = crypto.sha256(tx)
        if len(tx) > limits.tx_bytes_max:
            self.stats["txs_rejected"] += 1
        elif tx_hash in self.pending_txs or tx_hash in self.committed_tx_hashes:
            self.stats["txs_duplicate"] += 1
        elif len(self.pending_txs) >= limits.pending_txs_max:
            self.stats["txs_pool_full"] += 1
        elif self.application.is_tx_used(tx):
            self.stats["txs_duplicate"] += 1  # executed in a block this replica did not see
        elif self.application.check_tx(tx) != CHECK_TX_OK:
            self.stats["txs_rejected"] += 1
        else:
            self.pending_txs[tx_hash] = PendingTx(tx, now)
            self.unproposed_txs[tx_hash] = now
            return True
        return False

    def on_timer(self, kind: TimerKind, now: int) -> list[Output]:
        self._begin()
        deadline = self.timers.get(kind)
        if deadline is not None and now >= deadline:
            del self.timers[kind]
            if kind is TimerKind.PROPOSE:
                self._maybe_propose(now)
            elif kind is TimerKind.PROGRESS:
                self._on_progress_deadline(now)
            else:
                self._on_retransmit_deadline(now)
            self._arm_timers(now)
        return self._take()

    # --- read-only views for the runtime and the simulator ----------------------------

    @property
    def primary(self) -> int:
        return self.validators.primary_of(self.view)

    @property
    def is_primary(self) -> bool:
        return self.primary == self.replica_id

    def compute_signed_heights(self) -> tuple[int, ...]:
        """Per validator index, the last height it signed a COMMIT for (as seen here).

        A validator whose height lags the chain is not in consensus: it counts
        for nothing towards the fault margin (the node shows it in /v1/status).
        """
        return tuple(self.last_signed_heights)

    def compute_memory_footprint(self) -> dict[str, int]:
        """Sizes of every growing structure, for the bounded-memory checker."""
        return {
            "slots": len(self.slots),
            "committed_blocks": len(self.committed),
            "snapshots": len(self.snapshots),
            "checkpoint_votes": sum(len(votes) for votes in self.checkpoint_votes.values()),
            "signed": len(self.signed),
            "view_changes": sum(len(changes) for changes in self.view_changes.values()),
            "suspicions": sum(len(shares) for shares in self.suspicions.values()),
            "pending_txs": len(self.pending_txs),
            "committed_tx_hashes": len(self.committed_tx_hashes),
            "history": len(self.history),
        }

    # --- helpers: outputs, signing, timers -------------------------------------------

    def _begin(self) -> None:
        """A new input: whatever an earlier call left half done (it raised) is not kept."""
        self._outputs = []
        self._signing = {}

    def _take(self) -> list[Output]:
        """The call completed: its signed messages are recorded together with their Persists."""
        outputs, self._outputs = self._outputs, []
        self.signed.update(self._signing)
        self._signing = {}
        return outputs

    def _get_signed(self, key: tuple[int, int, int]) -> SignedMessage | None:
        """What this replica signed under ``key``, in an earlier call or this one."""
        message = self._signing.get(key)
        return message if message is not None else self.signed.get(key)

    def _emit(self, output: Output) -> None:
        self._outputs.append(output)

    def _sign(self, body: Body) -> SignedMessage:
        payload = compute_signing_payload(self.config.chain_id, body)
        return SignedMessage(body, self.replica_id, self._key.sign(payload))

    def _sign_once(self, key: tuple[int, int, int], body: Body) -> SignedMessage | None:
        """Sign ``body`` unless this replica already signed something else under ``key``.

        The journal record is emitted before the message can be sent: this is the
        durability rule that keeps a restarted replica from equivocating. The
        message joins `signed` (what retransmissions resend) only when the call
        returns its outputs, so a call that raises leaves no signed message behind
        whose `Persist` was never executed.
        """
        existing = self._get_signed(key)
        if existing is not None:
            if existing.body == body:
                return existing
            self.stats["refused_to_sign_twice"] += 1
            return None
        message = self._sign(body)
        self._signing[key] = message
        self._emit(Persist(SignedRecord(message)))
        return message

    def _is_signed(self, message: SignedMessage) -> bool:
        if self.policy.skip_signature_check:
            return True
        payload = message.compute_payload(self.config.chain_id)
        return self._signature_check(
            self.validators.public_keys[message.signer], payload, message.signature
        )

    def _check(self) -> SignatureCheck:
        if self.policy.skip_signature_check:
            return _accept_any_signature
        return self._signature_check

    def _set_timer(self, kind: TimerKind, deadline: int) -> None:
        if self.timers.get(kind) != deadline:
            self.timers[kind] = deadline
            self._emit(SetTimer(kind, deadline))

    def compute_view_timeout_ms(self) -> int:
        return compute_view_timeout_ms(self.config, self.failed_view_changes)

    def _arm_timers(self, now: int) -> None:
        self._note_unproposed_head(now)
        if self._compute_timer_inputs() == self._armed_for:
            return  # nothing a deadline depends on changed since the last arming
        if self.status is Status.NORMAL:
            oldest = self._oldest_unproposed_since_ms()
            deadline = compute_progress_deadline_ms(
                self.config,
                self.failed_view_changes,
                max(self.last_progress_ms, self.view_started_ms),
                None if oldest is None else self._waiting_since(oldest),
                self.suspected_ms,
            )
            self._set_timer(TimerKind.PROGRESS, max(deadline, now + 1))
            if self.is_primary and TimerKind.PROPOSE not in self.timers:
                self._set_timer(TimerKind.PROPOSE, now + self.config.block_interval_ms)
        else:
            deadline = self.view_started_ms + self.compute_view_timeout_ms()
            self._set_timer(TimerKind.PROGRESS, max(deadline, now + 1))
        if TimerKind.RETRANSMIT not in self.timers:
            self._set_timer(TimerKind.RETRANSMIT, now + self.config.retransmit_interval_ms)
        self._armed_for = self._compute_timer_inputs()

    def _compute_timer_inputs(self) -> tuple[object, ...]:
        return (
            self.status,
            self.view,
            self.last_progress_ms,
            self.view_started_ms,
            self.failed_view_changes,
            self._oldest_unproposed_since_ms(),
            self.last_full_block_ms,
            self.suspected_ms,
            tuple(self.timers),
        )

    def _waiting_since(self, oldest_pending_ms: int) -> int:
        return compute_censorship_clock_start(
            oldest_pending_ms,
            self.view_started_ms,
            self.last_full_block_ms,
            self.config.tx_proposal_timeout_ms,
            self.config.tx_backlog_timeout_ms,
        )

    def _note_unproposed_head(self, now: int) -> None:
        """Keep `unproposed_head` on the oldest unproposed tx, stamped when it became the oldest."""
        head = next(iter(self.unproposed_txs), None)
        if head is None:
            self.unproposed_head = None
        elif self.unproposed_head is None or self.unproposed_head[0] != head:
            self.unproposed_head = (head, now)

    def _oldest_unproposed_since_ms(self) -> int | None:
        """Since when the oldest pending tx that no block accepted in this view carries has
        been the oldest (as noted by `_note_unproposed_head`), or since it arrived if later."""
        head = self.unproposed_head
        admitted_ms = None if head is None else self.unproposed_txs.get(head[0])
        return None if head is None or admitted_ms is None else max(admitted_ms, head[1])

    def _mark_unproposed_again(self) -> None:
        """Every pending tx outside the in-flight set counts as unproposed (in arrival order)."""
        in_flight = self.in_flight_tx_hashes
        self.unproposed_txs = {
            tx_hash: pending.admitted_ms
            for tx_hash, pending in self.pending_txs.items()
            if tx_hash not in in_flight
        }

    # --- the only transitions of view, status and last_executed -------------------------

    def _transition_to_view(self, view: int) -> None:
        """Install ``view`` (NEW-VIEW, or the view reloaded from the journal): never backwards."""
        assert view >= self.view, f"replica {self.replica_id}: view {view} after {self.view}"
        assert (
            self.status is Status.VIEW_CHANGING
            or view > self.view
            or view == 0
            or (self.new_view_message is None)
        ), f"replica {self.replica_id}: installing view {view} twice"
        self.view = view
        self.status = Status.NORMAL
        self.view_change_target = view

    def _transition_to_view_change(self, target: int) -> None:
        """Leave the current view for ``target``: only forward, never back to a lower target."""
        assert target > self.view, f"replica {self.replica_id}: view change to {target}"
        assert self.status is Status.NORMAL or target >= self.view_change_target
        self.status = Status.VIEW_CHANGING
        self.view_change_target = target

    def _transition_executed(self, height: int) -> None:
        """Block ``height`` executed: strictly the next one."""
        assert height == self.last_executed + 1, (
            f"replica {self.replica_id}: executed {height} after {self.last_executed}"
        )
        self.last_executed = height

    def _transition_installed(self, height: int) -> None:
        """A verified snapshot (state transfer) or the store's state (restart) at ``height``."""
        assert height > self.last_executed or height == 0, (
            f"replica {self.replica_id}: installed {height} at {self.last_executed}"
        )
        self.last_executed = height

    # --- dispatch and the checks every message passes ----------------------------------

    def _dispatch(self, message: SignedMessage, now: int) -> None:
        if not self.validators.is_validator(message.signer):
            self.dropped["unknown_signer"] += 1
            return
        body = message.body
        if isinstance(body, Prepare | Commit):
            self._on_vote(message, body, now)
        elif isinstance(body, PrePrepare):
            self._on_pre_prepare(message, body, now)
        elif isinstance(body, Checkpoint):
            self._on_checkpoint(message, body, now)
        elif isinstance(body, ViewChange):
            self._on_view_change(message, body, now)
        elif isinstance(body, NewView):
            self._on_new_view(message, body, now)
        elif isinstance(body, FetchRequest):
            self._on_fetch_request(message, body, now)
        elif isinstance(body, Suspect):
            self._on_suspect(message, body, now)
        else:
            self._on_fetch_reply(message, body, now)

    def _drop(self, reason: str) -> None:
        self.dropped[reason] += 1

    def _is_in_window(self, seq: int) -> bool:
        return self.stable_seq < seq <= self.stable_seq + self.config.watermark_window_blocks

    def _slot(self, seq: int) -> Slot:
        slot = self.slots.get(seq)
        if slot is None:
            assert self._is_in_window(seq)
            slot = Slot(seq)
            self.slots[seq] = slot
        return slot

    # --- normal case: PRE-PREPARE ----------------------------------------------------

    def _on_pre_prepare(self, message: SignedMessage, body: PrePrepare, now: int) -> None:
        header = body.block.header
        if message.signer != self.validators.primary_of(body.view):
            return self._drop("not_primary")
        if body.view < self.view:
            return self._drop("old_view")
        if body.view > self.view + limits.view_ahead_max:
            return self._drop("view_too_far")
        if not self._is_in_window(body.seq):
            return self._drop("outside_window")
        if (
            header.height != body.seq
            or header.view != body.view
            or header.proposer != message.signer
            or header.is_null
        ):
            return self._drop("malformed_proposal")
        own_vote = self._get_signed((PREPARE_KEY, body.view, body.seq))
        if (
            own_vote is not None
            and isinstance(own_vote.body, Prepare)
            and own_vote.body.digest != body.block.digest
        ):
            return self._drop("conflicts_with_own_vote")  # e.g. after a restart, from the journal
        slot = self._slot(body.seq)
        known = slot.proposals.get(body.view)
        if known is not None:
            if known.digest != body.block.digest:
                return self._drop("equivocation")
            if body.view == self.view and body.view in slot.accepted:
                return self._drop("duplicate")
        if known is None:
            if not self._is_signed(message):
                return self._drop("bad_signature")
            slot.proposals[body.view] = body.block
        if body.view == self.view and self.status is Status.NORMAL:
            self._try_accept_proposal(slot, now)

    def _try_accept_proposal(self, slot: Slot, now: int) -> None:
        """Vote PREPARE for the current view's proposal once it validates."""
        view = self.view
        block = slot.proposals.get(view)
        if block is None or view in slot.accepted or slot.certificate is not None:
            return
        verdict = self._validate_proposal(block, now)
        if verdict is _Wait.ANCHOR_NOT_EXECUTED:
            return
        if verdict is not None:
            del slot.proposals[view]
            return self._drop(verdict)
        self._accept(slot, view, block, now)

    def _validate_proposal(self, block: Block, now: int) -> str | _Wait | None:
        header = block.header
        anchor_height = header.height - self.config.pipeline_depth_blocks
        if anchor_height > self.last_executed:
            return _Wait.ANCHOR_NOT_EXECUTED
        anchor = self.history.get(max(anchor_height, 0))
        if anchor is None:
            return "anchor_forgotten"
        if header.anchor_hash != anchor.digest or header.anchor_state_root != anchor.state_root:
            return "bad_anchor"
        if header.timestamp_ms < anchor.timestamp_ms:
            return "timestamp_before_anchor"
        if header.timestamp_ms > now + self.config.clock_skew_ms_max:
            return "timestamp_in_future"
        if len(block.txs) > self.config.txs_per_block_max:
            return "too_many_txs"
        if sum(len(tx) for tx in block.txs) > limits.block_txs_bytes_max:
            return "too_many_tx_bytes"
        if not self._are_txs_new(block.txs):
            return "duplicate_tx"
        if not self.application.validate_block(block.txs):
            return "invalid_block"
        return None

    def _are_txs_new(self, txs: tuple[bytes, ...]) -> bool:
        """Exactly once: no tx of a proposal was committed (in the window this replica remembers)
        or is in another block it accepted in this view, and none appears twice. An honest
        primary never proposes one: it leaves out in-flight txs, and its pool loses every
        committed tx, however it learned of the commit."""
        return are_txs_new(txs, self.committed_tx_hashes, self.in_flight_tx_hashes)

    def _purge_used_txs(self) -> None:
        """Drop pending txs that can never commit: executed in a block this replica skipped
        (state transfer), or beaten by a rival with the same nonce. Without this a losing tx
        of a nonce race would keep the censorship clock running against an honest primary."""
        used = [h for h, p in self.pending_txs.items() if self.application.is_tx_used(p.tx)]
        for tx_hash in used:
            del self.pending_txs[tx_hash]
            self.unproposed_txs.pop(tx_hash, None)
        self.stats["txs_purged"] += len(used)

    def _accept(self, slot: Slot, view: int, block: Block, now: int) -> None:
        """Adopt ``block`` as this view's proposal at ``slot`` and vote PREPARE for it."""
        prepare = self._sign_once(
            (PREPARE_KEY, view, slot.seq), Prepare(view, slot.seq, block.digest)
        )
        if prepare is None:
            return
        assert isinstance(prepare.body, Prepare)
        digest = prepare.body.digest  # after a restart, the digest this replica already voted
        if digest != block.digest:
            return
        slot.accepted[view] = digest
        slot.blocks[digest] = block
        for tx in block.txs:
            tx_hash = crypto.sha256(tx)
            self.in_flight_tx_hashes.add(tx_hash)
            self.unproposed_txs.pop(tx_hash, None)
        self._emit(Broadcast(prepare))
        self._record_vote(slot, prepare, prepare.body)
        self._try_advance(slot, now)

    # --- normal case: PREPARE and COMMIT -------------------------------------------------

    def _on_vote(self, message: SignedMessage, body: Prepare | Commit, now: int) -> None:
        is_prepare = isinstance(body, Prepare)
        lowest_view = self.view if is_prepare else self.view - limits.view_ahead_max
        if body.view < lowest_view:
            return self._drop("old_view")
        if body.view > self.view + limits.view_ahead_max:
            return self._drop("view_too_far")
        if not self._is_in_window(body.seq):
            if body.seq > self.stable_seq:
                self._note_ahead(message.signer, body.seq, now)
            return self._drop("outside_window")
        slot = self._slot(body.seq)
        votes = slot.prepare_votes if is_prepare else slot.commit_votes
        earlier = votes.get((body.view, message.signer))
        if earlier is not None:
            return self._drop("duplicate" if earlier == body.digest else "double_vote")
        if slot.certificate is not None or (is_prepare and body.view in slot.commit_sent_views):
            return self._drop("late_vote")
        if not self._is_signed(message):
            return self._drop("bad_signature")
        self._record_vote(slot, message, body)
        self._try_advance(slot, now)

    def _record_vote(self, slot: Slot, message: SignedMessage, body: Prepare | Commit) -> None:
        is_prepare = isinstance(body, Prepare)
        if not is_prepare and body.seq > self.last_signed_heights[message.signer]:
            self.last_signed_heights[message.signer] = body.seq
        votes = slot.prepare_votes if is_prepare else slot.commit_votes
        votes[(body.view, message.signer)] = body.digest
        tally = slot.prepares if is_prepare else slot.commits
        tally.setdefault((body.view, body.digest), {})[message.signer] = SignatureShare(
            message.signer, message.signature
        )

    def _try_advance(self, slot: Slot, now: int) -> None:
        view = self.view
        digest = slot.accepted.get(view)
        if (
            digest is not None
            and self.status is Status.NORMAL
            and view not in slot.commit_sent_views
            and is_prepared(slot, view, digest, self.quorum)
        ):
            self._send_commit(slot, view, digest)
        if slot.certificate is None:
            self._try_commit(slot, now)

    def _send_commit(self, slot: Slot, view: int, digest: bytes) -> None:
        shares = compute_first_shares(slot.prepares[(view, digest)], self.quorum)
        certificate = PreparedCertificate(view, slot.seq, slot.blocks[digest], shares)
        commit = self._sign_once((COMMIT_KEY, view, slot.seq), Commit(view, slot.seq, digest))
        if commit is None:
            return
        slot.commit_sent_views.add(view)
        if slot.prepared is None or slot.prepared.view < view:
            slot.prepared = certificate
            self._emit(Persist(PreparedRecord(certificate)))
        self._emit(Broadcast(commit))
        assert isinstance(commit.body, Commit)
        self._record_vote(slot, commit, commit.body)

    def _try_commit(self, slot: Slot, now: int) -> None:
        for (view, digest), shares in slot.commits.items():
            if len(shares) < self.quorum:
                continue
            block = slot.blocks.get(digest)
            if block is None:
                self._request_fetch(now, sorted(shares))
                continue
            certificate = CommitCertificate(
                view, slot.seq, digest, compute_first_shares(shares, self.quorum)
            )
            slot.certificate = certificate
            self.committed[slot.seq] = CertifiedBlock(block, certificate)
            self._execute_ready(now)
            return

    # --- execution and checkpoints -----------------------------------------------------

    def _execute_ready(self, now: int) -> None:
        while (next_block := self.committed.get(self.last_executed + 1)) is not None:
            self._execute(next_block, now)

    def _release_passed_over_proposal(self, height: int, committed_digest: bytes) -> None:
        """The block this replica accepted at ``height`` in this view lost to another (an
        equivocating primary): its txs are in flight no more, and count as unproposed again."""
        slot = self.slots.get(height)
        accepted = None if slot is None else slot.accepted.get(self.view)
        if slot is None or accepted is None or accepted == committed_digest:
            return
        lost = slot.blocks.get(accepted)
        if lost is None:
            return
        for tx in lost.txs:
            self.in_flight_tx_hashes.discard(crypto.sha256(tx))
        self._mark_unproposed_again()

    def _execute(self, certified: CertifiedBlock, now: int) -> None:
        block = certified.block
        height = block.height
        entry = apply_certified_block(self.chain_rules, self.application, self.history, certified)
        state_root = entry.state_root
        self.history[height] = entry
        self._transition_executed(height)
        self.next_seq = max(self.next_seq, height + 1)
        self.last_progress_ms = now
        if len(block.txs) >= self.config.txs_per_block_max:
            self.last_full_block_ms = now
        self.failed_view_changes = 0
        self.suspected_ms = None
        self.stats["blocks_executed"] += 1
        if certified.certificate.view > self._level():
            # The network commits in a view this replica never installed: fetch its NEW-VIEW
            # (every fetch reply carries the responder's) instead of following by certificates.
            signers = sorted(share.signer for share in certified.certificate.shares)
            self._request_fetch(now, signers)
        self._release_passed_over_proposal(height, block.digest)
        for tx in block.txs:
            tx_hash = crypto.sha256(tx)
            self.pending_txs.pop(tx_hash, None)
            self.unproposed_txs.pop(tx_hash, None)
            self.in_flight_tx_hashes.discard(tx_hash)
            self.committed_tx_hashes[tx_hash] = None
        while len(self.committed_tx_hashes) > limits.pending_txs_max:
            del self.committed_tx_hashes[next(iter(self.committed_tx_hashes))]
        self._emit(Committed(block, certified.certificate, state_root, self.history[height]))
        if height % self.config.checkpoint_interval_blocks == 0:
            self._take_checkpoint(height, now)
        self._forget_history()
        waiting = self.slots.get(height + self.config.pipeline_depth_blocks)
        if waiting is not None and self.status is Status.NORMAL:
            self._try_accept_proposal(waiting, now)

    def _recent_history(self, height: int) -> tuple[HistoryEntry, ...]:
        first = max(0, height - self.config.pipeline_depth_blocks + 1)
        return tuple(self.history[h] for h in range(first, height + 1))

    def _take_checkpoint(self, height: int, now: int) -> None:
        history = self._recent_history(height)
        checkpoint = Checkpoint(height, history[-1].state_root, compute_history_digest(history))
        self.snapshots[height] = (self.application.create_snapshot(), history)
        message = self._sign(checkpoint)
        self.own_checkpoint = message
        self._emit(Broadcast(message))
        self._record_checkpoint(message, checkpoint, now)

    def _forget_history(self) -> None:
        keep_from = min(self.stable_seq, self.last_executed) - self.config.pipeline_depth_blocks
        for height in [h for h in self.history if h < keep_from]:
            del self.history[height]

    def _on_checkpoint(self, message: SignedMessage, body: Checkpoint, now: int) -> None:
        if body.seq % self.config.checkpoint_interval_blocks != 0 or body.seq == 0:
            return self._drop("malformed_checkpoint")
        if body.seq <= self.stable_seq:
            return self._drop("old_checkpoint")
        if (
            body.seq
            > max(self.stable_seq, self.last_executed) + self.config.watermark_window_blocks
        ):
            self._note_ahead(message.signer, body.seq, now)
            return self._drop("outside_window")
        votes = self.checkpoint_votes.setdefault(body.seq, {})
        if any(message.signer in signers for signers in votes.values()):
            return self._drop("duplicate")
        if not self._is_signed(message):
            return self._drop("bad_signature")
        self._record_checkpoint(message, body, now)

    def _record_checkpoint(self, message: SignedMessage, body: Checkpoint, now: int) -> None:
        signers = self.checkpoint_votes.setdefault(body.seq, {}).setdefault(body, {})
        signers[message.signer] = SignatureShare(message.signer, message.signature)
        if body.seq > self.last_executed and len(signers) >= self.weak_quorum:
            self._request_fetch(now, sorted(signers))
        if len(signers) >= self.quorum:
            proof = CheckpointProof(body, compute_first_shares(signers, self.quorum))
            if body.seq <= self.last_executed:
                self._make_stable(proof)

    def _make_stable(self, proof: CheckpointProof) -> None:
        seq = proof.checkpoint.seq
        if seq <= self.stable_seq:
            return
        own = self.history.get(seq)  # None when resumed from the store above ``seq``
        assert own is None or own.state_root == proof.checkpoint.state_root, (
            f"replica {self.replica_id}: state at {seq} diverges from the stable checkpoint"
        )
        self.stable_proof = proof
        self.stable_seq = seq
        self.slots = {s: slot for s, slot in self.slots.items() if s > seq}
        # Blocks of one more checkpoint interval stay: a peer a little behind fetches them
        # instead of a whole state transfer.
        keep_above = seq - self.config.checkpoint_interval_blocks
        self.committed = {h: block for h, block in self.committed.items() if h > keep_above}
        self.snapshots = {h: snap for h, snap in self.snapshots.items() if h >= seq}
        self.checkpoint_votes = {s: v for s, v in self.checkpoint_votes.items() if s > seq}
        self.signers_ahead = {s: at for s, at in self.signers_ahead.items() if at > seq}
        self.signed = {key: m for key, m in self.signed.items() if key[2] > seq or key[2] == 0}
        self._forget_history()
        self._emit(Persist(PruneRecord(seq, self.view, proof)))

    # --- the primary ----------------------------------------------------------------

    def _maybe_propose(self, now: int) -> None:
        if self.status is not Status.NORMAL or not self.is_primary:
            return
        seq = max(self.next_seq, self.last_executed + 1)
        if seq > self.last_executed + self.config.pipeline_depth_blocks:
            return
        if not self._is_in_window(seq):
            return
        existing = self._get_signed((PRE_PREPARE_KEY, self.view, seq))
        if existing is None:
            block = self._build_block(seq, now)
            if not block.txs and not self._is_heartbeat_due(now):
                return  # an idle chain only proposes empty blocks as liveness heartbeats
            if seq > self.last_executed + 1 and len(block.txs) < self.config.txs_per_block_max:
                # A block of ours is in flight: under load let the next one fill meanwhile, so
                # each block's fixed cost (votes, journal syncs, state root, a checkpoint every
                # few blocks) covers more txs. Below saturation the last block executed before
                # the next proposal falls due, and nothing waits.
                return
            existing = self._sign_once(
                (PRE_PREPARE_KEY, self.view, seq), PrePrepare(self.view, seq, block)
            )
        assert existing is not None and isinstance(existing.body, PrePrepare)
        self.next_seq = seq + 1
        self._emit(Broadcast(existing))
        slot = self._slot(seq)
        slot.proposals.setdefault(self.view, existing.body.block)
        self._try_accept_proposal(slot, now)

    def _is_heartbeat_due(self, now: int) -> bool:
        """No commit for the idle interval: an empty block keeps backups from suspecting us."""
        interval = self.config.idle_block_interval_ms
        quiet_since = max(self.last_progress_ms, self.view_started_ms)
        return interval == 0 or now - quiet_since >= interval

    def _build_block(self, seq: int, now: int) -> Block:
        anchor = self.history[max(seq - self.config.pipeline_depth_blocks, 0)]
        txs: list[bytes] = []
        size = 0
        for tx_hash, pending in self.pending_txs.items():
            if len(txs) >= self.config.txs_per_block_max:
                break
            if tx_hash not in self.in_flight_tx_hashes:
                size += len(pending.tx)
                if size > limits.block_txs_bytes_max:
                    break
                txs.append(pending.tx)
        header = BlockHeader(
            chain_id=self.config.chain_id,
            height=seq,
            view=self.view,
            anchor_hash=anchor.digest,
            anchor_state_root=anchor.state_root,
            txs_root=crypto.merkle_root(txs),
            proposer=self.replica_id,
            timestamp_ms=max(now, anchor.timestamp_ms),
            is_null=False,
        )
        return create_block(header, tuple(txs))

    # --- timers --------------------------------------------------------------------

    def _on_progress_deadline(self, now: int) -> None:
        if self.status is Status.NORMAL:
            self._purge_used_txs()
            self._note_unproposed_head(now)
            stalled = now - max(self.last_progress_ms, self.view_started_ms)
            oldest = self._oldest_unproposed_since_ms()
            censored = (
                oldest is not None
                and now - self._waiting_since(oldest) >= self.config.tx_proposal_timeout_ms
            )
            if stalled >= self.compute_view_timeout_ms() or censored:
                self._suspect(self.view, now)  # not binding: it keeps voting in this view
            return
        if now - self.view_started_ms < self.compute_view_timeout_ms():
            return
        target = self.view_change_target
        self.view_started_ms = now
        if len(self.view_changes.get(target, {})) >= self.quorum:
            self._suspect(target, now)  # a quorum wanted ``target`` and its NEW-VIEW never came
        else:
            self._broadcast_own_view_change()  # PBFT: no quorum, no escalation; keep asking
        self._request_fetch(now, list(range(self.validators.size)))

    def _on_retransmit_deadline(self, now: int) -> None:
        if now - self.last_progress_ms < self.config.retransmit_interval_ms:
            return
        self.stats["retransmissions"] += 1
        if self.status is Status.VIEW_CHANGING:
            self._broadcast_own_view_change()
        else:
            if self.is_primary and self.new_view_message is not None:
                self._emit(Broadcast(self.new_view_message))
            for seq in sorted(self.slots):
                if self.slots[seq].certificate is not None:
                    continue
                for kind in (PRE_PREPARE_KEY, PREPARE_KEY, COMMIT_KEY):
                    message = self._get_signed((kind, self.view, seq))
                    if message is not None:
                        self._emit(Broadcast(message))
        if self.own_checkpoint is not None:
            self._emit(Broadcast(self.own_checkpoint))
        if now - self.last_progress_ms >= self.config.view_timeout_ms:
            self._request_fetch(now, list(range(self.validators.size)))

    # --- view change ----------------------------------------------------------------

    def _level(self) -> int:
        """The view this replica is in, or the one it is changing to."""
        return self.view_change_target if self.status is Status.VIEW_CHANGING else self.view

    def _suspect(self, view: int, now: int) -> None:
        """Ask to leave ``view``: a signed, non-binding SUSPECT (no journal record needed, the
        same body always gets the same Ed25519 signature)."""
        self.suspected_ms = now
        self.stats["suspicions"] += 1
        message = self._sign(Suspect(view))
        self._emit(Broadcast(message))
        self._record_suspicion(message, view, now)

    def _on_suspect(self, message: SignedMessage, body: Suspect, now: int) -> None:
        if body.view < self._level():
            return self._drop("old_view")
        if body.view > self.view + limits.view_ahead_max:
            return self._drop("view_too_far")
        if message.signer in self.suspicions.get(body.view, {}):
            return self._drop("duplicate")
        if not self._is_signed(message):
            return self._drop("bad_signature")
        self._record_suspicion(message, body.view, now)

    def _record_suspicion(self, message: SignedMessage, view: int, now: int) -> None:
        shares = self.suspicions.setdefault(view, {})
        shares[message.signer] = SignatureShare(message.signer, message.signature)
        if len(shares) < self.quorum or view < self._level():
            return
        if self.status is Status.VIEW_CHANGING:
            self.failed_view_changes += 1  # a quorum wanted the target and it never came
            self.stats["view_changes_escalated"] += 1
        else:
            self.stats["view_changes_started"] += 1
        self._start_view_change(view + 1, now, compute_first_shares(shares, self.quorum))

    def _start_view_change(
        self, target: int, now: int, suspicions: tuple[SignatureShare, ...]
    ) -> None:
        """Leave the current view for ``target``: binding, so only with the proof that 2f+1
        validators suspected view ``target - 1`` (every honest replica that sees it joins)."""
        self._transition_to_view_change(target)
        self.suspected_ms = None
        self.view_started_ms = now
        self.timers.pop(TimerKind.PROPOSE, None)
        prepared = tuple(
            slot.prepared
            for seq, slot in sorted(self.slots.items())
            if slot.prepared is not None and seq > self.stable_seq
        )
        body = ViewChange(target, self.stable_proof, prepared, suspicions)
        message = self._sign_once((VIEW_CHANGE_KEY, target, 0), body)
        if message is None:  # after a restart: resend what was signed for this view then
            message = self._get_signed((VIEW_CHANGE_KEY, target, 0))
            assert message is not None
        self._emit(Broadcast(message))
        self.view_changes.setdefault(target, {})[self.replica_id] = message
        self._try_send_new_view(target, now)

    def _broadcast_own_view_change(self) -> None:
        """Every own VIEW-CHANGE above the current view: peers still collecting a lower
        target may have lost it, and without it they could never reach a quorum."""
        for target in range(self.view + 1, self.view_change_target + 1):
            message = self._get_signed((VIEW_CHANGE_KEY, target, 0))
            if message is not None:
                self._emit(Broadcast(message))

    def _is_valid_view_change(self, message: SignedMessage, body: ViewChange) -> bool:
        """Signature, checkpoint proof and every prepared certificate; each message once."""
        key = (message.signer, message.signature)
        known = self.valid_view_changes.get(key)
        if known is not None and (known.body is body or known.body == body):
            return True
        if not self._is_signed(message) or not is_structurally_valid_view_change(
            self.validators,
            body,
            self.config.watermark_window_blocks,
            self._check(),
            self.quorum,
        ):
            return False
        if len(self.valid_view_changes) >= limits.validators_max * (limits.view_ahead_max + 1):
            self.valid_view_changes.clear()
        self.valid_view_changes[key] = message
        return True

    def _on_view_change(self, message: SignedMessage, body: ViewChange, now: int) -> None:
        level = self.view_change_target if self.status is Status.VIEW_CHANGING else self.view
        if body.new_view <= self.view:
            return self._drop("old_view")
        if body.new_view > level + limits.view_ahead_max:
            return self._drop("view_too_far")
        changes = self.view_changes.setdefault(body.new_view, {})
        if message.signer in changes:
            return self._drop("duplicate")
        if not self._is_valid_view_change(message, body):
            return self._drop("invalid_view_change")
        changes[message.signer] = message
        if body.new_view > self._level():
            # Its proof shows 2f+1 validators (f+1 honest) wanted to leave new_view - 1: join.
            self.stats["view_changes_joined"] += 1
            self._start_view_change(body.new_view, now, body.suspicions)
        self._try_send_new_view(body.new_view, now)

    def _try_send_new_view(self, target: int, now: int) -> None:
        if self.validators.primary_of(target) != self.replica_id:
            return
        if self.status is not Status.VIEW_CHANGING or self.view_change_target != target:
            return
        changes = self.view_changes.get(target, {})
        if len(changes) < self.quorum:
            return
        chosen = tuple(changes[signer] for signer in sorted(changes)[: self.quorum])
        message = self._sign_once((NEW_VIEW_KEY, target, 0), NewView(target, chosen))
        if message is None:
            message = self._get_signed((NEW_VIEW_KEY, target, 0))
            assert message is not None
        self._emit(Broadcast(message))
        assert isinstance(message.body, NewView)
        self._install_view(message, message.body, now)

    def _on_new_view(self, message: SignedMessage, body: NewView, now: int) -> None:
        if body.view == 0:
            return self._drop("invalid_new_view")
        if message.signer != self.validators.primary_of(body.view):
            return self._drop("not_primary")
        if body.view < self.view or (body.view == self.view and self.new_view_message is not None):
            return self._drop("old_view")
        if self.status is Status.VIEW_CHANGING and body.view < self.view_change_target:
            return self._drop("old_view")
        signers = [change.signer for change in body.view_changes]
        if len(set(signers)) != len(signers) or len(signers) < self.quorum:
            return self._drop("invalid_new_view")
        if not self._is_signed(message):
            return self._drop("bad_signature")
        for change in body.view_changes:
            assert isinstance(change.body, ViewChange)
            if change.body.new_view != body.view or not self.validators.is_validator(change.signer):
                return self._drop("invalid_new_view")
            if not self._is_valid_view_change(change, change.body):
                return self._drop("invalid_new_view")
        self._install_view(message, body, now)

    def _install_view(self, message: SignedMessage, body: NewView, now: int) -> None:
        changes = [change.body for change in body.view_changes]
        assert all(isinstance(change, ViewChange) for change in changes)
        base, reproposals = compute_reproposals(
            [change for change in changes if isinstance(change, ViewChange)],
            self.config.chain_id,
            body.view,
            self.validators.primary_of(body.view),
        )
        self._transition_to_view(body.view)
        self.new_view_message = message
        self.view_started_ms = now
        self.in_flight_tx_hashes = set()
        self._mark_unproposed_again()
        self.view_changes = {t: c for t, c in self.view_changes.items() if t > body.view}
        self.suspicions = {v: s for v, s in self.suspicions.items() if v >= body.view}
        self.suspected_ms = None
        # Nothing is ever signed again for an earlier view: those records only cost memory.
        self.signed = {key: m for key, m in self.signed.items() if key[1] >= body.view}
        self.valid_view_changes = {
            key: change
            for key, change in self.valid_view_changes.items()
            if isinstance(change.body, ViewChange) and change.body.new_view > body.view
        }
        self._emit(Persist(ViewRecord(body.view)))
        self._emit(Persist(PruneRecord(self.stable_seq, body.view, self.stable_proof)))
        self._emit(ViewInstalled(body.view))
        self.stats["views_installed"] += 1
        self.timers.pop(TimerKind.PROPOSE, None)
        if base > self.last_executed:
            holders = [
                change.signer
                for change in body.view_changes
                if isinstance(change.body, ViewChange) and change.body.checkpoint_seq == base
            ]
            self._request_fetch(now, holders, force=True)
        highest = base
        for block in reproposals:
            highest = block.height
            if not self._is_in_window(block.height):
                continue
            slot = self._slot(block.height)
            if slot.certificate is not None:
                assert slot.certificate.digest == block.digest, (
                    f"replica {self.replica_id}: NEW-VIEW re-proposes a different block at "
                    f"{block.height} than the one committed"
                )
            slot.proposals[body.view] = block
            self._accept(slot, body.view, block, now)
        self.next_seq = max(highest + 1, self.last_executed + 1)
        for seq in sorted(self.slots):
            if seq > highest:
                self._try_accept_proposal(self.slots[seq], now)

    # --- state transfer -------------------------------------------------------------

    def _note_ahead(self, signer: int, seq: int, now: int) -> None:
        """Messages far above our window from f+1 replicas: we are behind; fetch."""
        self.signers_ahead[signer] = max(seq, self.signers_ahead.get(signer, 0))
        ahead = [s for s, at in self.signers_ahead.items() if at > self.last_executed]
        if len(ahead) >= self.weak_quorum:
            self._request_fetch(now, sorted(ahead))

    def _request_fetch(self, now: int, peers: Iterable[int], force: bool = False) -> None:
        if not force and now - self.last_fetch_ms < self.config.fetch_interval_ms:
            return
        candidates = [peer for peer in peers if peer != self.replica_id]
        if not candidates:
            return
        self.last_fetch_ms = now
        self.stats["fetches"] += 1
        message = self._sign(FetchRequest(self.last_executed + 1))
        count = min(len(candidates), self.weak_quorum)
        for index in range(count):
            peer = candidates[(self.fetch_rotation + index) % len(candidates)]
            self._emit(Send(peer, message))
        self.fetch_rotation += count

    def _on_fetch_request(self, message: SignedMessage, body: FetchRequest, now: int) -> None:
        last = self.last_served_fetch_ms.get(message.signer)
        if last is not None and now - last < self.config.fetch_interval_ms // 2:
            return self._drop("fetch_rate_limited")
        if not self._is_signed(message):
            return self._drop("bad_signature")
        self.last_served_fetch_ms[message.signer] = now
        transfer = None
        start = body.from_height
        stable = self.snapshots.get(self.stable_seq)
        if (
            start <= self.stable_seq
            and start not in self.committed
            and self.stable_proof is not None
            and stable is not None
        ):
            snapshot, history = stable
            transfer = CheckpointTransfer(self.stable_proof, history, snapshot)
            start = self.stable_seq + 1
        blocks: list[CertifiedBlock] = []
        height = start
        while len(blocks) < limits.fetch_blocks_max and height in self.committed:
            blocks.append(self.committed[height])
            height += 1
        new_view = self.new_view_message if self.view > 0 else None
        if transfer is None and not blocks and new_view is None:
            return
        reply = self._sign(FetchReply(transfer, tuple(blocks), new_view))
        self._emit(Send(message.signer, reply))

    def _on_fetch_reply(self, message: SignedMessage, body: FetchReply, now: int) -> None:
        if not self._is_signed(message):
            return self._drop("bad_signature")
        if body.transfer is not None and body.transfer.proof.checkpoint.seq > self.last_executed:
            self._install_transfer(body.transfer, now)
        check = self._check()
        for certified in body.blocks:
            height = certified.block.height
            if height <= self.last_executed or height in self.committed:
                continue
            if height > self.last_executed + limits.fetch_blocks_max:
                break
            if not verify_commit_certificate(
                self.validators, certified.certificate, certified.block, check, self.quorum
            ):
                self._drop("bad_certificate")
                break
            self.committed[height] = certified
            slot = self.slots.get(height)
            if slot is not None:
                slot.certificate = certified.certificate
        self._execute_ready(now)
        if body.new_view is not None:
            self._dispatch(body.new_view, now)

    def _install_transfer(self, transfer: CheckpointTransfer, now: int) -> None:
        checkpoint = transfer.proof.checkpoint
        history = transfer.history
        if not verify_checkpoint_proof(self.validators, transfer.proof, self._check(), self.quorum):
            return self._drop("bad_checkpoint_proof")
        if (
            not history
            or compute_history_digest(history) != checkpoint.history_digest
            or history[-1].height != checkpoint.seq
            or history[-1].state_root != checkpoint.state_root
        ):
            return self._drop("bad_checkpoint_history")
        if not self.application.restore_snapshot(
            checkpoint.seq, transfer.snapshot, checkpoint.state_root
        ):
            return self._drop("bad_snapshot")
        self.stats["state_transfers"] += 1
        self._transition_installed(checkpoint.seq)
        self.next_seq = max(self.next_seq, checkpoint.seq + 1)
        self.last_progress_ms = now
        for entry in history:
            self.history[entry.height] = entry
        self.committed = {h: b for h, b in self.committed.items() if h > checkpoint.seq}
        self.snapshots[checkpoint.seq] = (transfer.snapshot, history)
        self._purge_used_txs()
        self._emit(StateRestored(checkpoint.seq, checkpoint.state_root, history))
        self._make_stable(transfer.proof)

    # --- restart ---------------------------------------------------------------------

    def _resume_executed(self, executed: Sequence[HistoryEntry]) -> None:
        last = executed[-1]
        assert self.application.state_root() == last.state_root, (
            f"replica {self.replica_id}: the application is not at the state of block {last.height}"
        )
        heights = [entry.height for entry in executed]
        assert heights == list(range(heights[0], last.height + 1)), "executed must be consecutive"
        if heights[0] > 0:
            # The genesis entry was computed from an application that was already past genesis.
            self.history.pop(0, None)
        for entry in executed:
            self.history[entry.height] = entry
        self._transition_installed(last.height)
        self.next_seq = last.height + 1
        self._purge_used_txs()

    def _restore(self, journal: Sequence[JournalRecord], now: int) -> None:
        highest_view = 0
        change_target = 0
        for record in journal:
            if (
                isinstance(record, PruneRecord)
                and record.proof is not None
                and record.seq > self.stable_seq
            ):
                self.stable_seq = record.seq
                self.stable_proof = record.proof
        for record in journal:
            if isinstance(record, ViewRecord | PruneRecord):
                highest_view = max(highest_view, record.view)
            elif isinstance(record, PreparedRecord):
                certificate = record.certificate
                self._reload_prepared(certificate)
            else:
                message = record.message
                body = message.body
                if isinstance(body, PrePrepare | Prepare | Commit):
                    kind = (
                        PRE_PREPARE_KEY
                        if isinstance(body, PrePrepare)
                        else (PREPARE_KEY if isinstance(body, Prepare) else COMMIT_KEY)
                    )
                    self.signed[(kind, body.view, body.seq)] = message
                    highest_view = max(highest_view, body.view)
                elif isinstance(body, ViewChange):
                    self.signed[(VIEW_CHANGE_KEY, body.new_view, 0)] = message
                    change_target = max(change_target, body.new_view)
                elif isinstance(body, NewView):
                    self.signed[(NEW_VIEW_KEY, body.view, 0)] = message
                    highest_view = max(highest_view, body.view)
        self._transition_to_view(highest_view)
        self.new_view_message = self.signed.get((NEW_VIEW_KEY, highest_view, 0))
        if change_target > highest_view:
            self._transition_to_view_change(change_target)
            own = self.signed[(VIEW_CHANGE_KEY, change_target, 0)]
            self.view_changes.setdefault(change_target, {})[self.replica_id] = own
            self._broadcast_own_view_change()
        self._request_fetch(now, list(range(self.validators.size)), force=True)

    def _reload_prepared(self, certificate: PreparedCertificate) -> None:
        """Reload a prepared certificate persisted before a crash (it goes into view changes)."""
        if not self._is_in_window(certificate.seq):
            return
        slot = self._slot(certificate.seq)
        if slot.prepared is None or slot.prepared.view < certificate.view:
            slot.prepared = certificate
        slot.blocks[certificate.block.digest] = certificate.block


def _accept_any_signature(_public_key: bytes, _payload: bytes, _signature: bytes) -> bool:
    return True


__all__ = ["Replica", "Slot", "Status", "compute_censorship_clock_start", "compute_reproposals"]
