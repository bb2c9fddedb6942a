"""The node: one asyncio event loop wiring the replica, the exchange, the mempool, the store
and the network (DESIGN.md sections 2, 4, 6).

The replica and the exchange are pure; everything that touches time, disks
and sockets happens here. Replica outputs are executed in order, with one
rule: a `Persist` is on disk (synced) before any message after it is sent, so
a vote is durable before anyone can see it. Records are synced once per loop
iteration (group commit); the messages and the block saves behind them wait
for that sync, in order, while timers run at once. The outputs go through
`bftx.consensus.executor.OutputExecutor` (the simulator runs the same one):
any exception halts the node and drops the rest of the output list.

A validator votes. A follower verifies certified blocks it fetches from the
validators (`bftx.node.sync`), executes them, and serves the same queries.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from bftx import crypto, limits
from bftx.chain import Genesis
from bftx.consensus import (
    ChainRules,
    Committed,
    ConsensusConfig,
    InvalidCertifiedBlock,
    Output,
    PruneRecord,
    Replica,
    StateRestored,
    TimerKind,
    ValidatorSet,
    apply_certified_block,
    encode_message,
    prune_journal,
    verify_commit_certificate,
)
from bftx.consensus.executor import OutputExecutor
from bftx.consensus.messages import (
    Block,
    CertifiedBlock,
    Commit,
    CommitCertificate,
    HistoryEntry,
    SignedMessage,
    decode_message,
)
from bftx.consensus.outputs import JournalRecord
from bftx.consensus.storage import (
    decode_block,
    decode_commit_certificate,
    decode_journal_record,
    encode_block,
    encode_commit_certificate,
    encode_journal_record,
)
from bftx.crypto import KeyPair
from bftx.errors import Code, ConfigError, DecodeError
from bftx.exchange.application import ExchangeApplication
from bftx.exchange.events import BlockResult, Trade, decode_block_result, encode_block_result
from bftx.exchange.genesis import ExchangeGenesis
from bftx.exchange.transactions import peek_sender_and_nonce
from bftx.mempool import Admitted, Mempool
from bftx.node import sync
from bftx.node.checks import RuntimeChecks
from bftx.node.clock import NodeClock
from bftx.node.collection import CollectorPauses
from bftx.node.config import NodeConfig
from bftx.node.hooks import FAULT_EXECUTE_HEIGHT, InjectedFault, TestHooks
from bftx.node.metrics import NodeMetrics, serve_metrics
from bftx.node.pending import discard_pending, read_pending, save_pending
from bftx.node.recovery import encode_history, recover
from bftx.node.signing import SigningMonitor
from bftx.p2p.gossip import GossipBatcher, decode_batch, encode_batch
from bftx.p2p.identity import Identity, Peer
from bftx.p2p.network import Message, Network
from bftx.store import Store, StoredBlock, StoreError, TradeRow, TxRow

logger = logging.getLogger("bftx.node")

CONSENSUS_CHANNEL = 1
TX_GOSSIP_CHANNEL = 2
SYNC_CHANNEL = 3
# An idle chain commits an empty block this often (not every block interval): enough for the
# backups' view timeout, cheap enough not to spin (signatures, fsyncs) with nothing to do.
IDLE_BLOCK_INTERVAL_MS = limits.view_timeout_ms // 2
GOSSIP_DROP_LOG_INTERVAL_S = 10.0  # a full gossip queue is logged at most this often
LARGE_MESSAGE_BYTES = 4_096  # consensus messages from this size on are decoded once per bytes
DECODED_MESSAGES_MAX = 64  # large decoded consensus messages kept (proposals, view changes)


class ExecutedBlocks:
    """The exchange as the replica drives it, keeping what each executed block left behind.

    The replica may execute several blocks (and restore a snapshot) within one
    input before the node sees the first `Committed`: results, and the state
    at snapshot heights, are captured here at execution time, by height, until
    the node saves them.
    """

    def __init__(self, application: ExchangeApplication, hooks: TestHooks | None = None) -> None:
        self.application = application
        hooks = hooks or TestHooks()
        self.fault_execute_height = hooks.fault_execute_height  # test hooks (`bftx.node.hooks`)
        self.recommits = hooks.recommits
        self.checks = RuntimeChecks(application.exchange.state)
        self.results: dict[int, tuple[BlockResult, bytes | None]] = {}
        self.restored: dict[int, bytes] = {}  # snapshots installed by state transfer, by height

    def check_tx(self, tx: bytes) -> int:
        code = self.application.check_tx(tx)
        if self.recommits and code == Code.NONCE_USED:
            return int(Code.OK)  # the mutant: a committed tx passes as new
        return code

    def is_tx_used(self, tx: bytes) -> bool:
        return not self.recommits and self.application.is_tx_used(tx)

    def validate_block(self, txs: tuple[bytes, ...]) -> bool:
        return self.application.validate_block(txs)

    def execute_block(self, height: int, timestamp_ms: int, txs: tuple[bytes, ...]) -> bytes:
        if height == self.fault_execute_height:
            raise InjectedFault(f"{FAULT_EXECUTE_HEIGHT}: injected fault executing block {height}")
        state_root = self.application.execute_block(height, timestamp_ms, txs)
        result = self.application.last_result
        assert result is not None and result.height == height
        self.checks.check_block(self.application.exchange.state, result)  # raises: halt
        snapshot = (
            self.application.create_snapshot()
            if height % limits.snapshot_interval_blocks == 0
            else None
        )
        self.results[height] = (result, snapshot)
        return state_root

    def state_root(self) -> bytes:
        return self.application.state_root()

    def create_snapshot(self) -> bytes:
        return self.application.create_snapshot()

    def restore_snapshot(self, height: int, snapshot: bytes, state_root: bytes) -> bool:
        if not self.application.restore_snapshot(height, snapshot, state_root):
            return False
        self.checks.rebuild(self.application.exchange.state)
        # Results of blocks executed before the transfer stay: their `Committed` outputs may
        # still wait for the journal sync (the executor holds saves until it is durable).
        self.restored[height] = snapshot
        return True

    def forget_results_up_to(self, height: int) -> None:
        """Drop results no `Committed` will ask for: heights a state transfer went past."""
        for stale in [h for h in self.results if h <= height]:
            del self.results[stale]


class _NodePorts:
    """The node's disk, network and timers as the output executor's ports."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def save_journal(self, records: list[JournalRecord]) -> None:
        self.node._guard_disk(self.node._persist, records)

    def request_sync(self) -> None:
        self.node._schedule_sync()

    def send(self, to: int | None, message: SignedMessage) -> None:
        self.node._observe_own_vote(message)
        payload = encode_message(message)
        if to is None:
            self.node._broadcast_to_validators(payload)
        else:
            self.node._send_to_validator(to, payload)

    def set_timer(self, kind: TimerKind, deadline_ms: int) -> None:
        self.node._set_timer(kind, deadline_ms)

    def save_committed(self, committed: Committed) -> None:
        self.node._guard_disk(self.node._on_committed, committed)

    def save_restored(self, restored: StateRestored) -> None:
        self.node._guard_disk(self.node._on_state_restored, restored)

    def on_view_installed(self, view: int) -> None:
        metrics = self.node.metrics
        metrics.view.set(view)
        if view > 0:
            metrics.view_changes.inc()
        logger.info("view installed", extra={"view": view})

    def on_halt(self, reason: str, details: str) -> None:
        self.node.halt(reason, details)


@dataclass(frozen=True, slots=True)
class CommittedBlock:
    """What subscribers receive for every committed block, in height order."""

    height: int
    block_hash: bytes
    timestamp_ms: int
    txs: tuple[bytes, ...]
    certificate: CommitCertificate | None  # None only for blocks restored by state transfer
    result: BlockResult


class Node:
    def __init__(
        self,
        config: NodeConfig,
        genesis: Genesis,
        key: KeyPair,
        clock: Callable[[], int] | None = None,
        hooks: TestHooks | None = None,
    ) -> None:
        self.config = config
        self.hooks = hooks if hooks is not None else TestHooks.from_environment()
        self.genesis = genesis
        self.key = key
        # Timers and block timestamps: monotonic, slewed towards the wall clock (bftx.node.clock).
        self.clock = clock if clock is not None else NodeClock()
        self.chain_id = genesis.chain_id
        self.exchange_genesis = ExchangeGenesis.from_document(genesis.exchange)
        self.validators = ValidatorSet(
            self.chain_id, tuple(v.public_key for v in genesis.validators)
        )
        self.consensus_config = ConsensusConfig(
            self.validators, idle_block_interval_ms=IDLE_BLOCK_INTERVAL_MS
        )
        self.chain_rules = ChainRules(self.validators, self.consensus_config.pipeline_depth_blocks)
        self.validator_index = genesis.validator_index(key.public_key)
        if config.is_validator and self.validator_index is None:
            raise ConfigError(
                f"{config.key_file}: this key is not a validator in genesis (mode = validator)"
            )
        members = genesis.validators + genesis.followers
        own = [member for member in members if member.public_key == key.public_key]
        if not own:
            raise ConfigError(
                f"{config.key_file}: this key is neither a validator nor a follower in genesis"
            )
        if own[0].name != config.name:  # another node's key.json: two processes would sign as one
            raise ConfigError(
                f"{config.key_file}: this key is {own[0].name!r}'s in genesis, "
                f"but config.toml names this node {config.name!r}"
            )
        for peer in config.peers:
            if peer.public_key == key.public_key:
                raise ConfigError(
                    f"config.toml [[p2p.peers]] {peer.name!r}: its public_key is this node's own "
                    f"key ({config.key_file})"
                )
        self.metrics = NodeMetrics()
        self._gc_pauses = CollectorPauses()
        self.metrics.add_gc_pauses(self._gc_pauses)
        self.signing = SigningMonitor(len(genesis.validators))
        self.backfill = sync.Backfill(agreement=self.validators.fault_tolerance + 1)
        self._skipped_up_to = 0  # no height above it was skipped by a state transfer
        self._offered_again: dict[bytes, None] = {}  # the recommit mutant's (a test hook)
        self.store: Store | None = None
        self.replica: Replica | None = None
        self.network: Network | None = None
        self.gossip: GossipBatcher | None = None
        self.mempool: Mempool | None = None
        self._journal: list[JournalRecord] = []
        self._timers: dict[TimerKind, asyncio.TimerHandle] = {}
        self._subscribers: set[asyncio.Queue[CommittedBlock | None]] = set()
        self._submitted_ms: OrderedDict[bytes, int] = OrderedDict()
        self._history: dict[int, HistoryEntry] = {}
        self._servers: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._release_scheduled = False
        self._submission_counts: dict[Code, int] = {}  # not yet added to the metric
        self.txs_committed_total = 0  # txs in blocks committed since the start (admission control)
        # Client txs are refused (mempool_full) while this many txs wait for consensus: overload
        # sheds load at the edge instead of queueing past every timeout. (Txs waiting for an
        # earlier nonce do not count: refusing that nonce would strand them.)
        self.client_backlog_txs_max = limits.client_backlog_txs_max
        self.executor = OutputExecutor(_NodePorts(self))
        self._sync_scheduled = False
        self._gossip_backlog: deque[tuple[bytes, bytes]] = deque()  # (tx, the peer it came from)
        self._gossip_queued: dict[bytes, int] = {}  # per peer, its txs in the backlog
        self._gossip_draining = False
        self._gossip_drop_logged_s = -1e9
        self._decoded_messages: OrderedDict[bytes, SignedMessage] = OrderedDict()
        self._stopped = asyncio.Event()
        self.halted: str | None = None
        # What `pending.bin` held at this start, kept (file and list) until the node has started:
        # None while the start has not read it (a stop then leaves the file alone).
        self._saved_txs: list[bytes] | None = None

    # --- lifecycle ----------------------------------------------------------------

    async def start(self, *, listeners_follow: bool = False) -> None:
        """Recover, bind the p2p and metrics listeners, and start.

        ``listeners_follow``: the caller binds more listeners (the API) and
        calls `confirm_started` once they are; otherwise the node has started
        when this returns. Until then the saved pending txs stay on disk: a
        start that fails (a busy port, say) loses none of them. After an
        exception, `stop` releases what was started.
        """
        asyncio.get_running_loop().set_exception_handler(self._on_loop_exception)
        if self.hooks.active:
            logger.warning("test hooks are active: not for production", extra={"hooks": self.hooks})
        self.store = Store.open(
            self.config.database_path, self.chain_id, self.genesis.compute_hash()
        )
        recovered = recover(
            self.store,
            self.exchange_genesis,
            self.validators,
            self.consensus_config.pipeline_depth_blocks,
        )
        self.application = recovered.application
        self.executed = ExecutedBlocks(self.application, self.hooks)
        self._history = {entry.height: entry for entry in recovered.history}
        self.mempool = Mempool(self.application)
        gc.freeze()  # the recovered state lives as long as the node: keep it out of collections
        self._gc_pauses.install()
        logger.info(
            "recovered from the store",
            extra={
                "height": self.application.exchange.height,
                "replayed_blocks": recovered.replayed_blocks,
            },
        )
        self.metrics.height.set(self.application.exchange.height)
        self._observe_stored_certificates()
        self.metrics.add_gauges(
            "bftx_validator_last_signed_height",
            "The last height each validator was seen signing a COMMIT for (0: not seen)",
            "validator",
            self._last_signed_heights,
        )
        self.metrics.add_counts(
            "bftx_dropped_messages",
            "Consensus messages dropped, by reason",
            "reason",
            self._dropped,
        )
        self.network = Network(
            Identity(self.key, self._own_certificate()),
            self._pinned_peers(),
            # Nobody dials a follower; a listening follower would dial only the
            # validators whose keys sort after its own (the rule between two listeners).
            listen=(self.config.p2p_host, self.config.p2p_port)
            if self.config.is_validator
            else None,
            on_message=self._on_network_message,
            on_handler_error=self._on_handler_error,
            on_link_change=self._on_link_change,
        )
        self.metrics.add_counts(
            "bftx_p2p", "Transport counters", "counter", self.network.metrics.as_dict
        )
        self.gossip = GossipBatcher(
            self.network, TX_GOSSIP_CHANNEL, flush_interval_ms=max(1, self.config.batch_delay_ms)
        )
        if self.config.is_validator:
            assert self.validator_index is not None
            self.replica = Replica(
                self.consensus_config, self.validator_index, self.key, self.executed
            )
            if recovered.history[-1].height > 0:
                self.replica.resume(recovered.history)
            self._journal = self._load_journal()
            replica, journal, now = self.replica, self._journal, self.clock()
            self._run(lambda: replica.start(now, journal))
        self._readmit_saved_txs()  # handed to each peer as its link comes up
        await self.network.start()
        self._servers.append(
            await serve_metrics(self.metrics, self.config.metrics_host, self.config.metrics_port)
        )
        if not self.config.is_validator:
            self._spawn(self._follow())
        self._skipped_up_to = self.height  # everything executed by now is saved or skipped
        self._refresh_gap()
        self._spawn(self._fill_gaps())
        logger.info(
            "node started",
            extra={
                "mode": self.config.mode,
                "p2p_port": self.config.p2p_port,
                "validator": self.validator_index,
            },
        )
        if not listeners_follow:
            self.confirm_started()

    def _load_journal(self) -> list[JournalRecord]:
        """This validator's own votes, to resume without ever contradicting one."""
        assert self.store is not None
        records = []
        for position, data in enumerate(self.store.load_journal(), start=1):
            try:
                records.append(decode_journal_record(data, self.chain_id))
            except DecodeError as error:
                # Starting without its votes, a validator could sign a conflicting one.
                raise StoreError(
                    f"{self.store.path}: vote journal record {position} is damaged ({error}); "
                    "this validator will not start without the votes it signed. Restore the "
                    "file from a backup, or stop every validator's use of this key before "
                    "starting afresh with an empty data directory"
                ) from error
        return records

    def confirm_started(self) -> None:
        """Every listener is bound: the saved pending txs are the mempool's now, the file goes."""
        if self._saved_txs:
            try:
                discard_pending(self.config.data_dir)
            except OSError as error:  # the next start admits them again: refused if committed
                logger.warning("saved pending txs not deleted", extra={"error": str(error)})
        self._saved_txs = []

    async def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._gc_pauses.remove()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        for server in self._servers:
            server.close()
        if self.gossip is not None:
            self.gossip.close()
        if self.network is not None:
            await self.network.close()
        self._save_pending_txs()
        for queue in list(self._subscribers):
            _end_stream(queue)
        self._subscribers.clear()
        if self.store is not None:
            self.store.close()
            self.store = None
        self._stopped.set()
        logger.info("node stopped")

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    # --- the mempool across a clean restart (`bftx.node.pending`) ----------------------

    def _save_pending_txs(self) -> None:
        """At a clean stop: what the mempool holds (admitted, acknowledged, not committed).

        After a start that failed, the saved file is left as it was, or only added to.
        """
        if self.mempool is None or self._saved_txs is None:
            return  # the start did not get to the saved txs: the file (if any) stays
        txs = self.mempool.pending_txs()
        if self._saved_txs:  # the start did not finish: keep every saved tx, add what came since
            saved = set(self._saved_txs)
            txs = self._saved_txs + [data for data in txs if data not in saved]
        try:
            save_pending(self.config.data_dir, txs)
        except OSError as error:
            logger.error("pending txs not saved", extra={"txs": len(txs), "error": str(error)})
            return
        if txs:
            logger.info("pending txs saved", extra={"txs": len(txs)})

    def _readmit_saved_txs(self) -> None:
        """Admit again what the last clean stop saved, against the recovered state.

        The file stays until the node has started (`confirm_started`)."""
        assert self.mempool is not None
        self._saved_txs = []
        try:
            saved = read_pending(self.config.data_dir)
        except DecodeError as error:  # it can never become readable: removed
            logger.warning("saved pending txs not loaded", extra={"error": str(error)})
            discard_pending(self.config.data_dir)
            return
        except OSError as error:  # the next clean stop writes it again
            logger.warning("saved pending txs not loaded", extra={"error": str(error)})
            return
        if not saved:
            return
        self._saved_txs = saved
        refused: dict[str, int] = {}
        now = self.clock()
        for data in saved:
            code = self.mempool.add(data, now, check_body=False).code  # admitted once already
            if code is not Code.OK:
                refused[code.slug] = refused.get(code.slug, 0) + 1
        self._schedule_release()
        logger.info(
            "pending txs loaded",
            extra={
                "saved": len(saved),
                "admitted": len(saved) - sum(refused.values()),
                "refused": refused,
            },
        )

    def _on_link_change(self, peer: bytes, up: bool) -> None:
        """A link to a validator came up: hand it every pending tx. It may lack them: a restart
        empties a mempool, a link that closed took the frames in flight with it (a partition),
        and a tx that only a backup holds is never proposed. Duplicates are refused there."""
        if up and self._is_validator_key(peer):
            # Not from inside the callback: a listener's first frame on a new link must be
            # its confirmation (a keepalive), which the transport queues right after it.
            asyncio.get_running_loop().call_soon(self._hand_pending_txs, peer)

    def _hand_pending_txs(self, peer: bytes) -> None:
        if self.halted or self.mempool is None or self.network is None:
            return
        txs = self.mempool.pending_txs()
        for first in range(0, len(txs), limits.gossip_batch_items_max):
            batch = encode_batch(txs[first : first + limits.gossip_batch_items_max])
            self.network.send(peer, TX_GOSSIP_CHANNEL, batch)

    # --- the query and submission surface (what the API layer uses) -------------------

    @property
    def height(self) -> int:
        return self.application.exchange.height

    def send_admitted_txs(self) -> None:
        """Hand what clients just had admitted to the peers now, before they are answered.

        Gossip otherwise waits up to `limits.gossip_flush_interval_ms` to batch; a
        node killed in that window would take txs it had acknowledged with it.
        """
        if self.gossip is not None and not self.halted:
            self.gossip.flush()

    def client_backlog(self) -> int:
        """Txs handed to consensus and not committed yet, and gossiped txs not yet admitted: the
        queue a new client tx joins. (Txs waiting for an earlier nonce of their account are not
        in it: nothing commits them.)"""
        released = self.mempool.released if self.mempool is not None else 0
        return released + len(self._gossip_backlog)

    def is_next_nonce(self, data: bytes) -> bool:
        """Is this client tx its account's next nonce, counting the txs the mempool holds?
        Decoded (cached), not verified: admission control asks before paying for a
        signature. An undecodable tx is not (it would be refused anyway)."""
        if self.mempool is None:
            return False
        try:
            tx = self.application.decoded.decode(data)
        except DecodeError:
            return False
        return self.mempool.is_next_nonce(tx)

    def fills_gap(self, data: bytes) -> bool:
        """Does this client tx claim the nonce that txs the mempool holds for its account wait
        for? Read without decoding or verifying it, and only while some tx waits at all:
        admission control lets such a tx past the queue bound (refusing it would strand txs
        already accepted), and admitting it checks it in full."""
        mempool = self.mempool
        if mempool is None or not mempool.waiting:
            return False
        claimed = peek_sender_and_nonce(data)
        return claimed is not None and mempool.fills_gap(*claimed)

    def submit(self, data: bytes, origin: bytes | None = None) -> Admitted:
        """Admit a tx from a client (``origin`` None) or a peer; gossip what a client sent.

        An exception from the application while admitting halts the node (and is raised on).
        """
        try:
            return self._submit(data, origin)
        except Exception as error:
            self.fail(error, "admitting a tx")
            raise

    def _submit(self, data: bytes, origin: bytes | None) -> Admitted:
        assert self.mempool is not None and self.gossip is not None
        if origin is None and self.mempool.released >= self.client_backlog_txs_max:
            self._count_submission(Code.MEMPOOL_FULL)  # shed load before paying for a signature
            return Admitted(Code.MEMPOOL_FULL, None)
        now = self.clock()
        admitted = self.mempool.add(data, now, check_body=origin is None)
        self._count_submission(admitted.code)
        if admitted.code is not Code.OK:
            return admitted
        assert admitted.tx_hash is not None
        if origin is None:
            self._remember_submission(admitted.tx_hash, now)
            self.gossip.add(data, None, admitted.tx_hash)
        self._schedule_release()
        return admitted

    def _count_submission(self, code: Code) -> None:
        """Counted here, added to the metric once per loop iteration (with the release)."""
        self._submission_counts[code] = self._submission_counts.get(code, 0) + 1
        self._schedule_release()

    def _flush_submission_counts(self) -> None:
        for code, count in self._submission_counts.items():
            self.metrics.txs_submitted.labels(code.slug).inc(count)
        self._submission_counts.clear()

    async def subscribe(self) -> AsyncIterator[CommittedBlock]:
        """Committed blocks from now on, in order. A subscriber that falls too far behind is dropped."""
        queue: asyncio.Queue[CommittedBlock | None] = asyncio.Queue(
            limits.subscriber_queue_blocks_max
        )
        self._subscribers.add(queue)
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            self._subscribers.discard(queue)

    def status(self) -> dict[str, object]:
        replica = self.replica
        network = self.network
        return {
            "node": self.config.name,
            "mode": self.config.mode,
            "chain_id": self.chain_id,
            "height": self.height,
            "state_root": self.application.state_root().hex(),
            "view": replica.view if replica else None,
            "primary": replica.primary if replica else None,
            "validator_index": self.validator_index,
            "validators": [v.name for v in self.genesis.validators],
            "peers_connected": sorted(self._member_name(k) for k in network.connected_peers())
            if network
            else [],
            "mempool_txs": len(self.mempool) if self.mempool else 0,
            "halted": self.halted,
            **self._signing_status(),
        }

    def _observe_stored_certificates(self) -> None:
        """Who signed the last blocks before this start, from their stored certificates."""
        assert self.store is not None
        oldest = max(0, self.height - self.signing.window_blocks)
        for stored in self.store.blocks_after(oldest):
            try:
                certificate = decode_commit_certificate(stored.certificate)
            except DecodeError:
                continue  # recovery checked what it replays; an older damaged row is not ours
            self.signing.observe_signers((s.signer for s in certificate.shares), stored.height)

    def stored_block(self, height: int) -> tuple[Block, CommitCertificate, bytes] | None:
        """A committed block with its certificate and encoded result, from the store."""
        stored = self.store.block(height) if self.store else None
        if stored is None:
            return None
        return (
            decode_block(stored.block, self.chain_id),
            decode_commit_certificate(stored.certificate),
            stored.result,
        )

    # --- executing replica outputs ----------------------------------------------------

    def _run(self, call: Callable[[], list[Output]]) -> None:
        """Call the replica and execute its outputs; any exception halts the node."""
        self.executor.run(call)

    def _execute(self, outputs: list[Output]) -> None:
        self.executor.execute(outputs)

    def _guard_disk(self, write: Callable[[Any], None], argument: Any) -> bool:
        """Run a store write; if the disk fails, halt instead of going on with state the store lacks."""
        try:
            write(argument)
        except (sqlite3.Error, OSError, StoreError) as error:
            self.halt(f"the store failed: {error}")
            return False
        return True

    def fail(self, error: BaseException, where: str) -> None:
        """An exception from the replica, the application or the store: log its traceback, halt.

        Whatever raised may have left the replica or the state half updated, so
        nothing it did may go further (DESIGN.md section 8); a restart recovers
        from the journal and the store.
        """
        self.halt(
            f"exception {where}: {type(error).__name__}: {error}",
            "".join(traceback.format_exception(error)),
        )

    def _on_handler_error(self, error: BaseException) -> None:
        self.fail(error, "handling a network message")

    def _on_loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Timers and scheduled callbacks raise into the loop's handler: halt there too.

        Only a socket error reported by a transport (a peer went away) is not the node's bug.
        """
        error = context.get("exception")
        from_transport = any(key in context for key in ("transport", "protocol", "socket"))
        if error is None or (isinstance(error, OSError) and from_transport):
            loop.default_exception_handler(context)
            return
        self.fail(error, f"in a callback ({context.get('message', 'unknown')})")

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            self.fail(error, f"in task {task.get_name()}")

    def halt(self, reason: str, details: str = "") -> None:
        """Stop voting, executing and admitting; keep serving queries and say why (``/v1/health`` is 503).

        The output executor stops at once too: the rest of the output list being
        executed is dropped, and no record or message waiting for a sync goes out.
        """
        if self.halted is not None:
            return
        self.halted = reason
        self.metrics.halted.set(1)
        self.executor.halt(reason, details)
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        logger.error("node halted", extra={"reason": reason, "traceback": details or None})

    def _schedule_sync(self) -> None:
        if self._sync_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # outside the loop (tests): sync at once
            self._sync_journal()
            return
        self._sync_scheduled = True
        loop.call_soon(self._sync_journal)

    def _sync_journal(self) -> None:
        """Persist every record of this loop iteration in one synced transaction, then send."""
        self._sync_scheduled = False
        if self.store is not None:
            self.executor.sync()

    def _persist(self, records: list[JournalRecord]) -> None:
        """Journal records, synced before anything after them is sent (one transaction for all)."""
        assert self.store is not None
        prunes = [record for record in records if isinstance(record, PruneRecord)]
        self._journal.extend(records)
        if prunes:
            for prune in prunes:
                self._journal = prune_journal(self._journal, prune)
            self.store.replace_journal([encode_journal_record(record) for record in self._journal])
        else:
            self.store.append_journal([encode_journal_record(record) for record in records])

    def _set_timer(self, kind: TimerKind, deadline_ms: int) -> None:
        previous = self._timers.pop(kind, None)
        if previous is not None:
            previous.cancel()
        delay = max(0.0, (deadline_ms - self.clock()) / 1000)
        self._timers[kind] = asyncio.get_running_loop().call_later(
            delay, self._fire_timer, kind, deadline_ms
        )

    def _fire_timer(self, kind: TimerKind, deadline_ms: int) -> None:
        self._timers.pop(kind, None)
        if self.replica is None or self.halted:
            return
        now = self.clock()
        if now < deadline_ms:  # the event loop's clock ran ahead of the wall clock: wait the rest
            self._set_timer(kind, deadline_ms)
            return
        replica = self.replica
        self._run(lambda: replica.on_timer(kind, now))

    def _on_committed(self, committed: Committed) -> None:
        block = committed.block
        result, snapshot = self.executed.results.pop(block.height)
        self._save_block(block, committed.certificate, result, snapshot)

    def _save_block(
        self,
        block: Block,
        certificate: CommitCertificate,
        result: BlockResult,
        snapshot: bytes | None,
    ) -> None:
        assert self.store is not None and self.mempool is not None
        height = block.height
        _write_block(self.store, block, certificate, result, encode_block_result(result))
        self._history[height] = HistoryEntry(
            height, block.digest, result.state_root, result.timestamp_ms
        )
        self._observe_certificate(height, certificate)
        self._history.pop(height - self.consensus_config.pipeline_depth_blocks, None)
        touched = {receipt.sender for receipt in result.receipts}
        touched.update(e.maker for r in result.receipts for e in r.events if isinstance(e, Trade))
        self.mempool.remove_committed([receipt.tx_hash for receipt in result.receipts], touched)
        self._release_ready(self.clock())
        if self.hooks.recommits:
            self._offer_committed_again(block)
        if snapshot is not None:
            self.store.save_snapshot(height, result.state_root, snapshot)
        self._observe_commit(block, result)
        item = CommittedBlock(
            height, block.digest, result.timestamp_ms, block.txs, certificate, result
        )
        for queue in list(self._subscribers):
            if queue.full():  # too slow: end its stream (it resynchronises from a snapshot)
                self._subscribers.discard(queue)
                _end_stream(queue)
            else:
                queue.put_nowait(item)

    def _observe_commit(self, block: Block, result: BlockResult) -> None:
        assert self.mempool is not None
        now = self.clock()
        for receipt in result.receipts:
            submitted = self._submitted_ms.pop(receipt.tx_hash, None)
            if submitted is not None:
                self.metrics.commit_latency.observe((now - submitted) / 1000)
        self.metrics.height.set(block.height)
        self.metrics.blocks_committed.inc()
        self.metrics.txs_committed.inc(len(block.txs))
        self.txs_committed_total += len(block.txs)
        self.metrics.mempool_txs.set(len(self.mempool))
        self.metrics.gossip_backlog.set(len(self._gossip_backlog))

    def _on_state_restored(self, restored: StateRestored) -> None:
        """State transfer replaced the state: save it as a snapshot so a restart resumes from it,
        purge what the skipped heights committed, and fetch their blocks in the background."""
        assert self.store is not None and self.mempool is not None
        self.store.save_snapshot(
            restored.height,
            restored.state_root,
            self.executed.restored.pop(restored.height),
            transfer_history=encode_history(restored.history),
        )
        self.executed.forget_results_up_to(restored.height)  # outputs before it are saved
        # The skipped heights committed txs this node never saw in a block: every pending tx
        # whose nonce they used (a committed tx, or one that lost the nonce race) leaves now.
        self.mempool.recheck_all()
        self._history = {entry.height: entry for entry in restored.history}
        self._skipped_up_to = max(self._skipped_up_to, restored.height)
        self._refresh_gap()
        self.metrics.height.set(restored.height)
        self.metrics.mempool_txs.set(len(self.mempool))
        self._release_ready(self.clock())
        logger.info("state restored by state transfer", extra={"height": restored.height})

    def _schedule_release(self) -> None:
        """Release once per loop iteration, so a batch of submissions reaches the replica together."""
        if self._release_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the loop (tests): release at once
            self._release_scheduled_txs()
            return
        self._release_scheduled = True
        loop.call_soon(self._release_scheduled_txs)

    def _release_scheduled_txs(self) -> None:
        self._release_scheduled = False
        self._flush_submission_counts()
        if self.mempool is None or self.halted:
            return
        self._release_ready(self.clock())
        self.metrics.mempool_txs.set(len(self.mempool))

    def _release_ready(self, now: int) -> None:
        """Hand txs that became ready (gap-free nonces) to the replica's proposal pool."""
        assert self.mempool is not None
        ready = self.mempool.release_ready()
        if self.replica is not None and ready:
            replica = self.replica
            self._run(lambda: replica.on_client_txs(ready, now))

    def _offer_committed_again(self, block: Block) -> None:
        """The ``recommit`` mutant (a test hook): put the exactly-once bug back by offering a
        committed block's txs to the proposal pool again, past the committed-tx filters."""
        replica = self.replica
        assert replica is not None
        again = []
        for data in block.txs:
            tx_hash = crypto.sha256(data)
            replica.committed_tx_hashes.pop(tx_hash, None)
            if tx_hash not in self._offered_again:  # once each: a duplicate, not a flood
                self._offered_again[tx_hash] = None
                again.append(data)
        while len(self._offered_again) > limits.pending_txs_max:
            del self._offered_again[next(iter(self._offered_again))]
        now = self.clock()
        self._run(lambda: replica.on_client_txs(again, now))

    def _remember_submission(self, tx_hash: bytes, now: int) -> None:
        self._submitted_ms[tx_hash] = now
        while len(self._submitted_ms) > limits.latency_samples_max:
            self._submitted_ms.popitem(last=False)

    # --- network ----------------------------------------------------------------------

    def _on_network_message(self, message: Message) -> None:
        if self.halted:
            return
        if message.channel == CONSENSUS_CHANNEL:
            if self.replica is not None and self._is_validator_key(message.peer):
                self._on_consensus_bytes(message.payload, message.peer)
        elif message.channel == TX_GOSSIP_CHANNEL:
            try:
                txs = decode_batch(message.payload)
            except DecodeError:
                logger.warning(
                    "malformed tx batch dropped", extra={"peer": self._member_name(message.peer)}
                )
                return
            self._queue_gossip(txs, message.peer)
        elif message.channel == SYNC_CHANNEL:
            self._on_sync(message)

    def _queue_gossip(self, txs: Sequence[bytes], peer: bytes) -> None:
        """Queue gossiped txs for admission in slices of the loop (`_drain_gossip`).

        Admitting a batch costs a signature check per tx; done inline it held every consensus
        message behind it (on the same link and on the loop), and under load blocks fell
        past the view timeout. Each peer may fill its share of `limits.gossip_backlog_txs_max`
        (so a flooding peer cannot crowd out the others); past it, its batch is dropped.
        """
        queued = self._gossip_queued.get(peer, 0)
        if queued + len(txs) > limits.gossip_backlog_txs_max // self.validators.size:
            self.metrics.gossip_batches_dropped.inc()
            now = time.monotonic()
            if now - self._gossip_drop_logged_s >= GOSSIP_DROP_LOG_INTERVAL_S:
                self._gossip_drop_logged_s = now
                logger.warning(
                    "gossip backlog full: tx batch dropped (further drops are only counted for a while)",
                    extra={
                        "peer": self._member_name(peer),
                        "txs": len(txs),
                        "queued": queued,
                        "quiet_s": GOSSIP_DROP_LOG_INTERVAL_S,
                    },
                )
            return
        self._gossip_queued[peer] = queued + len(txs)
        self._gossip_backlog.extend((data, peer) for data in txs)
        if self._gossip_draining:
            return
        self._gossip_draining = True
        try:
            asyncio.get_running_loop().call_soon(self._drain_gossip)
        except RuntimeError:  # outside the loop (tests): admit at once
            self._drain_gossip()

    def _drain_gossip(self) -> None:
        """Admit queued gossip for at most `limits.gossip_slice_ms`, then let the loop run."""
        backlog = self._gossip_backlog
        deadline = time.perf_counter() + limits.gossip_slice_ms / 1000
        queued = self._gossip_queued
        while backlog and not self.halted:
            data, peer = backlog.popleft()
            queued[peer] -= 1
            self.submit(data, origin=peer)
            if time.perf_counter() >= deadline:
                break
        if backlog and not self.halted:
            asyncio.get_running_loop().call_soon(self._drain_gossip)
        else:
            backlog.clear()
            queued.clear()
            self._gossip_draining = False

    def _on_consensus_bytes(self, payload: bytes, peer: bytes) -> None:
        """Hand a consensus message to the replica, decoding a large one once per distinct bytes.

        Retransmitted proposals and view changes repeat the same bytes; under load
        decoding them again (every tx, the txs root) is what turns slowness into a storm.
        A COMMIT vote a validator sent over its own link shows that it is signing.
        """
        replica = self.replica
        assert replica is not None
        now = self.clock()
        message = self._decoded_messages.get(payload)
        if message is None:
            try:
                message = decode_message(payload, self.chain_id)
            except DecodeError:
                self._run(lambda: replica.on_bytes(payload, now))  # the replica counts it
                return
            if len(payload) >= LARGE_MESSAGE_BYTES:
                self._decoded_messages[payload] = message
                if len(self._decoded_messages) > DECODED_MESSAGES_MAX:
                    self._decoded_messages.popitem(last=False)
        self._observe_vote(message, peer)
        decoded = message
        self._run(lambda: replica.on_message(decoded, now))

    def _observe_vote(self, message: SignedMessage, sender: bytes) -> None:
        body = message.body
        if isinstance(body, Commit) and self.validators.public_keys[message.signer] == sender:
            self.signing.observe(message.signer, body.seq)

    def _broadcast_to_validators(self, payload: bytes) -> None:
        assert self.network is not None
        if self.halted:  # a halted node sends no consensus message, whoever asks
            return
        for index, public_key in enumerate(self.validators.public_keys):
            if index != self.validator_index:
                self.network.send(public_key, CONSENSUS_CHANNEL, payload)

    def _send_to_validator(self, index: int, payload: bytes) -> None:
        assert self.network is not None
        if self.halted:
            return
        if index != self.validator_index and self.validators.is_validator(index):
            self.network.send(self.validators.public_keys[index], CONSENSUS_CHANNEL, payload)

    def _observe_own_vote(self, message: SignedMessage) -> None:
        """This node's own COMMIT votes, as the replica sends them."""
        if isinstance(message.body, Commit):
            self.signing.observe(message.signer, message.body.seq)

    def _observe_certificate(self, height: int, certificate: CommitCertificate | None) -> None:
        if certificate is not None:
            self.signing.observe_signers((share.signer for share in certificate.shares), height)
        state = self.signing.update_warning(height)
        if state is not None:
            names = [self.genesis.validators[i].name for i in state.not_signing]
            if state.is_one_fault_from_stopping:
                logger.warning(
                    "one fault away from stopping: too few validators sign commits",
                    extra={
                        "height": height,
                        "signing": len(state.signing),
                        "needed_for_margin": self.signing.quorum + 1,
                        "not_signing": ",".join(names),
                    },
                )
            else:
                logger.info("fault margin restored", extra={"height": height})
        self.metrics.fault_margin.set(self.signing.compute_state(height).margin)

    def _signing_status(self) -> dict[str, object]:
        state = self.signing.compute_state(self.height)
        return {
            "signing": [
                {"validator": validator.name, "index": index, "last_signed_height": last}
                for index, (validator, last) in enumerate(
                    zip(self.genesis.validators, self.signing.last_signed, strict=True)
                )
            ],
            "validators_not_signing": [self.genesis.validators[i].name for i in state.not_signing],
            "fault_margin": state.margin,
        }

    def _last_signed_heights(self) -> dict[str, int]:
        return {
            validator.name: last or 0
            for validator, last in zip(
                self.genesis.validators, self.signing.last_signed, strict=True
            )
        }

    def _is_validator_key(self, public_key: bytes) -> bool:
        return public_key in self.validators.public_keys

    def _pinned_peers(self) -> list[Peer]:
        addresses = {peer.public_key: peer for peer in self.config.peers}
        pinned = []
        for member in self.genesis.validators + self.genesis.followers:
            if member.public_key == self.key.public_key:
                continue
            if not member.certificate:
                raise ConfigError(f"genesis: member {member.name!r} has no TLS certificate")
            address = addresses.get(member.public_key)
            pinned.append(
                Peer(
                    member.public_key,
                    member.name,
                    address.host if address else None,
                    address.port if address else None,
                    member.certificate.encode(),
                )
            )
        return pinned

    def _own_certificate(self) -> bytes:
        for member in self.genesis.validators + self.genesis.followers:
            if member.public_key == self.key.public_key and member.certificate:
                return member.certificate.encode()
        raise ConfigError("genesis: this node's own TLS certificate is missing")

    def _member_name(self, public_key: bytes) -> str:
        for member in self.genesis.validators + self.genesis.followers:
            if member.public_key == public_key:
                return member.name
        return public_key.hex()[:16]

    def _dropped(self) -> dict[str, int]:
        return dict(self.replica.dropped) if self.replica is not None else {}

    # --- follower sync ----------------------------------------------------------------

    def _on_sync(self, message: Message) -> None:
        try:
            decoded = sync.decode_sync(message.payload)
        except DecodeError:
            logger.warning(
                "malformed sync message dropped", extra={"peer": self._member_name(message.peer)}
            )
            return
        if isinstance(decoded, sync.SyncRequest):
            self._serve_sync(message.peer, decoded.from_height)
        elif isinstance(decoded, sync.SyncReply) and not self.config.is_validator:
            self._apply_synced(decoded.blocks)
        elif isinstance(decoded, sync.BackfillRequest):
            self._serve_backfill(message.peer, decoded)
        elif isinstance(decoded, sync.BackfillReply) and self._is_validator_key(message.peer):
            self._on_backfill_reply(message.peer, decoded)

    def _serve_sync(self, peer: bytes, from_height: int) -> None:
        assert self.store is not None and self.network is not None
        blocks: list[tuple[bytes, bytes]] = []
        size = 0
        for height in range(from_height, from_height + limits.sync_blocks_max):
            stored = self.store.block(height)
            if stored is None or (
                blocks and size + len(stored.block) > limits.sync_reply_bytes_budget
            ):
                break
            blocks.append((stored.block, stored.certificate))
            size += len(stored.block) + len(stored.certificate)
        if blocks:
            self.network.send(peer, SYNC_CHANNEL, sync.encode_reply(blocks))

    def _apply_synced(self, blocks: tuple[tuple[bytes, bytes], ...]) -> None:
        """Certified blocks from a validator, through the one path every certified block takes."""
        for block_bytes, certificate_bytes in blocks:
            try:
                block = decode_block(block_bytes, self.chain_id)
                certificate = decode_commit_certificate(certificate_bytes)
            except DecodeError as error:
                logger.warning("sync: malformed block refused", extra={"error": str(error)})
                return
            height = self.height + 1
            if block.height != height:
                continue
            try:
                apply_certified_block(
                    self.chain_rules,
                    self.executed,
                    self._history,
                    CertifiedBlock(block, certificate),
                )
            except InvalidCertifiedBlock as error:
                if error.is_divergence:  # 2f+1 certified it and this node disagrees: stop
                    self.halt(f"sync: this node's state diverged from the certified one: {error}")
                else:
                    logger.warning("sync: certified block refused", extra={"error": str(error)})
                return
            result, snapshot = self.executed.results.pop(height)
            self._save_block(block, certificate, result, snapshot)

    # --- backfill of heights skipped by state transfer -------------------------------

    def _refresh_gap(self) -> None:
        """The lowest skipped range at or below the last state transfer (``_skipped_up_to``):
        heights above it this node executes and saves itself, so backfill never races them."""
        assert self.store is not None
        gap = self.store.first_gap(self._skipped_up_to)
        if gap != self.backfill.gap and gap is not None:
            logger.info("fetching skipped blocks", extra={"from": gap[0], "to": gap[1]})
        self.backfill.set_gap(gap)

    async def _fill_gaps(self) -> None:
        """Ask f + 1 validators (in turn) for the lowest skipped heights, until none is left."""
        assert self.network is not None
        rotation = 0
        while not self.halted:
            await asyncio.sleep(limits.sync_interval_ms / 1000)
            wanted = self.backfill.request_range()
            if wanted is None:
                continue
            connected = self.network.connected_peers()
            peers = [key for key in self.validators.public_keys if key in connected]
            request = sync.encode_backfill_request(*wanted)
            for offset in range(min(self.backfill.agreement, len(peers))):
                self.network.send(peers[(rotation + offset) % len(peers)], SYNC_CHANNEL, request)
            rotation += 1

    def _serve_backfill(self, peer: bytes, request: sync.BackfillRequest) -> None:
        assert self.store is not None and self.network is not None
        blocks: list[tuple[bytes, bytes, bytes]] = []
        size = 0
        last = min(request.to_height, request.from_height + limits.sync_blocks_max - 1)
        for height in range(request.from_height, last + 1):
            stored = self.store.block(height)
            if stored is None:
                continue  # skipped here too: the requester asks others as well
            entry_size = len(stored.block) + len(stored.certificate) + len(stored.result)
            if blocks and size + entry_size > limits.sync_reply_bytes_budget:
                break
            blocks.append((stored.block, stored.certificate, stored.result))
            size += entry_size
        if blocks:
            self.network.send(peer, SYNC_CHANNEL, sync.encode_backfill_reply(blocks))

    def _on_backfill_reply(self, peer: bytes, reply: sync.BackfillReply) -> None:
        """Skipped blocks from a validator: certificate checked here, the result taken once
        f + 1 validators sent the same bytes for it; then saved (never executed)."""
        assert self.store is not None
        saved = 0
        for block_bytes, certificate_bytes, result_bytes in reply.blocks:
            try:
                block = decode_block(block_bytes, self.chain_id)
                certificate = decode_commit_certificate(certificate_bytes)
                result = decode_block_result(result_bytes)
            except DecodeError as error:
                logger.warning(
                    "backfill: malformed block refused",
                    extra={"peer": self._member_name(peer), "error": str(error)},
                )
                return
            problem = self._find_backfill_problem(block, certificate, result)
            if problem is not None:
                logger.warning(
                    "backfill: block refused",
                    extra={"peer": self._member_name(peer), "height": block.height, "why": problem},
                )
                return
            agreed = self.backfill.offer(
                peer, block.height, block_bytes, certificate_bytes, result_bytes
            )
            if agreed is not None and self.store.block(block.height) is None:
                _write_block(self.store, block, certificate, result, result_bytes)
                saved += 1
        if saved:
            self._refresh_gap()

    def _find_backfill_problem(
        self, block: Block, certificate: CommitCertificate, result: BlockResult
    ) -> str | None:
        if not verify_commit_certificate(self.validators, certificate, block):
            return "no quorum of validator signatures for this block"
        if result.height != block.height:
            return f"the result is for height {result.height}"
        if sorted(r.tx_hash for r in result.receipts) != sorted(map(crypto.sha256, block.txs)):
            return "the result's receipts are not the block's txs"
        return None

    async def _follow(self) -> None:
        assert self.network is not None
        rotation = 0
        while not self.halted:
            connected = [
                key for key in self.validators.public_keys if key in self.network.connected_peers()
            ]
            if connected:
                peer = connected[rotation % len(connected)]
                rotation += 1
                self.network.send(peer, SYNC_CHANNEL, sync.encode_request(self.height + 1))
            await asyncio.sleep(limits.sync_interval_ms / 1000)

    def _spawn(self, coroutine: Coroutine[None, None, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._on_task_done)


def _write_block(
    store: Store,
    block: Block,
    certificate: CommitCertificate,
    result: BlockResult,
    result_bytes: bytes,
) -> None:
    """Block, certificate, result, tx index and trades in one store transaction."""
    height = block.height
    store.save_block(
        StoredBlock(
            height,
            block.digest,
            result.state_root,
            result.timestamp_ms,
            encode_block(block),
            encode_commit_certificate(certificate),
            result_bytes,
        ),
        [
            TxRow(
                receipt.tx_hash, height, position, int(receipt.code), receipt.sender, receipt.nonce
            )
            for position, receipt in enumerate(result.receipts)
        ],
        [
            _trade_row(height, event)
            for receipt in result.receipts
            for event in receipt.events
            if isinstance(event, Trade)
        ],
    )


def _trade_row(height: int, trade: Trade) -> TradeRow:
    return TradeRow(
        trade.market,
        trade.trade_id,
        height,
        trade.timestamp_ms,
        trade.price_ticks,
        trade.quantity_lots,
        int(trade.taker_side),
        trade.maker,
        trade.maker_nonce,
        trade.taker,
        trade.taker_nonce,
        trade.maker_fee,
        trade.taker_fee,
    )


def _end_stream(queue: asyncio.Queue[CommittedBlock | None]) -> None:
    """Tell a subscriber its stream ended, making room for the marker if its queue is full."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(None)
