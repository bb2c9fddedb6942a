"""One deterministic simulated run: N real replicas, a virtual clock, a hostile network.

This module owns the event loop (a heap ordered by virtual time), the network
(latency, loss, duplication, reordering, partitions), crashes and restarts
against fake disks, clock skew, the client load, and the wiring of byzantine
behaviours and checkers. Every random choice comes from generators seeded by
the run's seed, so a seed replays exactly. It must never read the wall clock,
touch sockets or the real disk: the replicas are the very same
`bftx.consensus.Replica` the node runs.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bftx import crypto
from bftx.consensus import (
    HONEST,
    Application,
    Broadcast,
    Committed,
    ConsensusConfig,
    JournalRecord,
    MutantPolicy,
    Output,
    Replica,
    Send,
    SignedMessage,
    StateRestored,
    TimerKind,
    ValidatorSet,
    encode_message,
)
from bftx.consensus.executor import OutputExecutor
from bftx.consensus.journal import compute_journal_key
from bftx.consensus.messages import HistoryEntry
from bftx.sim.app import CounterApplication
from bftx.sim.byzantine import AdversaryContext, Behaviour, create_behaviour
from bftx.sim.checkers import SafetyChecker, find_memory_violations
from bftx.sim.disk import FakeDisk
from bftx.sim.exchange_app import ExchangeLoad
from bftx.sim.scenario import Scenario

CHAIN_ID = "bftx-sim"
MUTANTS = ("weak-quorum", "skip-signature-check", "forget-votes", "send-before-persist")
APPS = ("counter", "exchange")
WIRE_BYTES_NODES_MAX = 16  # up to this many nodes every message crosses the codec

_DELIVER = 0
_TIMER = 1
_CLIENT_TX = 2
_CRASH = 3
_RESTART = 4
_TICK = 5
_PARTITION = 6
_CLIENT_LOAD = 7
_HEAL = 8


class SignatureMemo:
    """`crypto.verify` memoized: a pure function, so sharing it across replicas changes nothing.

    In the simulator one broadcast reaches N replicas in one process; without
    the memo a 100-node run would verify every signature 100 times.
    """

    def __init__(self) -> None:
        self.results: dict[tuple[bytes, bytes, bytes], bool] = {}
        self.verifications = 0

    def __call__(self, public_key: bytes, payload: bytes, signature: bytes) -> bool:
        key = (public_key, payload, signature)
        result = self.results.get(key)
        if result is None:
            if len(self.results) > 2_000_000:
                self.results.clear()
            result = crypto.verify(public_key, payload, signature)
            self.results[key] = result
            self.verifications += 1
        return result


def create_mutant_policy(mutant: str | None, fault_tolerance: int) -> MutantPolicy:
    if mutant is None:
        return HONEST
    if mutant == "weak-quorum":
        return MutantPolicy(name=mutant, quorum_override=fault_tolerance + 1)
    if mutant == "skip-signature-check":
        return MutantPolicy(name=mutant, skip_signature_check=True)
    if mutant == "forget-votes":
        return MutantPolicy(name=mutant)  # the fake disk forgets; the replica is honest
    if mutant == "send-before-persist":
        return MutantPolicy(name=mutant, send_before_persist=True)  # the output executor's bug
    raise ValueError(f"unknown mutant {mutant!r}; choose one of {', '.join(MUTANTS)}")


def create_keys(nodes: int) -> list[crypto.KeyPair]:
    return [crypto.KeyPair.from_seed(crypto.sha256(b"bftx-sim-key/%d" % i)) for i in range(nodes)]


class InjectedFault(Exception):
    """Raised by a simulated port on purpose (fault kinds output_exception, crash_before_persist)."""


@dataclass(slots=True)
class Instance:
    """One running copy of a validator; twins are two instances of one validator."""

    node_id: int
    copy: int
    skew_ms: int
    disk: FakeDisk
    behaviour: Behaviour | None
    replica: Replica | None = None
    application: Application | None = None
    executor: OutputExecutor | None = None
    alive: bool = True
    armed_fault: str | None = None  # output_exception or crash_before_persist, about to happen
    fault_countdown: int = 0  # output_exception: port calls left before the one that raises
    sent_signatures: dict[tuple[int, int, int], bytes] = field(default_factory=dict)
    unsaved_history: list[HistoryEntry] = field(default_factory=list)  # executed, not yet saved
    incarnation: int = 0
    last_commit_ms: int = -1
    commits: int = 0

    @property
    def is_honest(self) -> bool:
        return self.behaviour is None


@dataclass(slots=True)
class SeedResult:
    seed: int
    simulated_ms: int
    blocks_committed: int
    view_changes: int
    messages: int
    faults: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    safety_violations: list[str] = field(default_factory=list)
    liveness_failures: list[str] = field(default_factory=list)
    memory_violations: list[str] = field(default_factory=list)

    @property
    def is_failure(self) -> bool:
        return bool(self.safety_violations or self.liveness_failures or self.memory_violations)


class Simulation:
    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        mutant: str | None = None,
        config_overrides: dict[str, int] | None = None,
        app: str = "counter",
    ) -> None:
        self.scenario = scenario
        self.seed = seed
        self.mutant = mutant
        self.rng = random.Random(f"bftx-network/{seed}")
        self.adversary_rng = random.Random(f"bftx-adversary/{seed}")
        assert app in APPS, f"unknown app {app!r}"
        self.exchange_load = ExchangeLoad(CHAIN_ID) if app == "exchange" else None
        self.load_rng = random.Random(f"bftx-load/{seed}")
        self.keys = create_keys(scenario.nodes)
        validators = ValidatorSet(CHAIN_ID, tuple(key.public_key for key in self.keys))
        self.config = ConsensusConfig(validators, **(config_overrides or {}))
        self.policy = create_mutant_policy(mutant, validators.fault_tolerance)
        self.check = SignatureMemo()
        self.safety = SafetyChecker(self.config, self.check)
        self.wire_bytes = scenario.nodes <= WIRE_BYTES_NODES_MAX
        self.queue: list[tuple[int, int, int, object, object, object]] = []
        self.sequence = 0
        self.now = 0
        self.faults: Counter[str] = Counter()
        self.messages = 0
        self.tx_counter = 0
        self.active_partitions: list[frozenset[tuple[int, int]]] = []
        self.memory_violations: list[str] = []
        self.adversary = AdversaryContext(
            config=self.config,
            keys=self.keys,
            nodes=scenario.nodes,
            rng=self.adversary_rng,
            faults=self.faults,
            clock=lambda: self.now,
            transmit=self.transmit,
            send_bytes=self.send,
        )
        self.instances: dict[int, list[Instance]] = {}
        self.all_instances: list[Instance] = []
        self._create_instances()

    # --- setup ------------------------------------------------------------------

    def _create_instances(self) -> None:
        scenario = self.scenario
        skews = scenario.clock_skews_ms or (0,) * scenario.nodes
        self.faults["clock_skew"] += sum(1 for skew in skews if skew != 0)
        forget = self.mutant == "forget-votes"
        for node in range(scenario.nodes):
            kind = scenario.behaviours.get(node)
            copies = 2 if kind == "twins" else 1
            self.instances[node] = []
            for copy in range(copies):
                behaviour = None if kind is None else create_behaviour(kind)
                skew = skews[node] if copy == 0 else -skews[node]
                disk = FakeDisk(self.config.pipeline_depth_blocks, lose_on_crash=forget)
                instance = Instance(node, copy, skew, disk, behaviour)
                self.instances[node].append(instance)
                self.all_instances.append(instance)
            if kind in ("silence", "twins", "censorship"):
                self.faults[kind] += 1

    def _create_application(self) -> Application:
        if self.exchange_load is not None:
            return self.exchange_load.create_application()
        return CounterApplication()

    def _create_replica(self, instance: Instance, application: Application) -> Replica:
        policy = self.policy if instance.is_honest else HONEST
        instance.application = application
        instance.executor = OutputExecutor(SimulatedPorts(self, instance), policy)
        return Replica(
            self.config,
            instance.node_id,
            self.keys[instance.node_id],
            application,
            policy=policy,
            signature_check=self.check,
        )

    def push(
        self, at_ms: int, kind: int, first: object, second: object = None, third: object = None
    ) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, (at_ms, self.sequence, kind, first, second, third))

    # --- running ------------------------------------------------------------------

    def run(self) -> SeedResult:
        scenario = self.scenario
        for instance in self.all_instances:
            if instance.behaviour is not None and not instance.behaviour.needs_replica:
                instance.replica = None
                continue
            application = self._create_application()
            instance.replica = self._create_replica(instance, application)
            # The store starts with the genesis entry, as the node's does: a replica restarted
            # below the pipeline depth checks anchors against it.
            genesis = instance.replica.history[0]
            instance.disk.save_executed((genesis,), application.create_snapshot())
            self._call(instance, lambda r, now: r.start(now))
            if instance.behaviour is not None and instance.behaviour.tick_interval_ms:
                self.push(instance.behaviour.tick_interval_ms, _TICK, instance)
        for partition in scenario.partitions:
            self.push(partition.start_ms, _PARTITION, partition.blocked, True, partition.kind)
            self.push(partition.end_ms, _PARTITION, partition.blocked, False, partition.kind)
        for crash in scenario.crashes:
            self.push(crash.at_ms, _CRASH, crash.node, crash.kind)
            self.push(crash.restart_ms, _RESTART, crash.node)
        self.push(scenario.tx_interval_ms, _CLIENT_LOAD, None)
        self.push(scenario.heal_ms, _HEAL, None)
        self._loop(scenario.duration_ms)
        return self._result()

    def _loop(self, until_ms: int) -> None:
        queue = self.queue
        while queue and queue[0][0] <= until_ms:
            at_ms, _, kind, first, second, third = heapq.heappop(queue)
            self.now = at_ms
            if kind == _DELIVER:
                self._deliver(first, second)  # type: ignore[arg-type]
            elif kind == _TIMER:
                instance = first
                assert isinstance(instance, Instance) and isinstance(second, TimerKind)
                if instance.alive and instance.incarnation == third:
                    self._fire_timer(instance, second)
            elif kind == _CLIENT_TX:
                self._deliver_client_tx(first, second)  # type: ignore[arg-type]
            elif kind == _CLIENT_LOAD:
                self._submit_tx()
            elif kind == _TICK:
                self._tick(first)  # type: ignore[arg-type]
            elif kind == _CRASH:
                self._crash_or_arm(first, second)  # type: ignore[arg-type]
            elif kind == _RESTART:
                self._restart(first)  # type: ignore[arg-type]
            elif kind == _HEAL:
                self._check_memory()
            else:
                self._partition(first, second, third)  # type: ignore[arg-type]
        self.now = until_ms

    def _fire_timer(self, instance: Instance, timer: TimerKind) -> None:
        def fire(replica: Replica, now: int) -> list[Output]:
            return replica.on_timer(timer, now)

        self._call(instance, fire)

    def _start_from(
        self,
        instance: Instance,
        journal: tuple[JournalRecord, ...],
        executed: tuple[HistoryEntry, ...],
    ) -> None:
        def start(replica: Replica, now: int) -> list[Output]:
            return replica.start(now, journal, executed)

        self._call(instance, start)

    def _call(self, instance: Instance, action: Callable[[Replica, int], list[Output]]) -> None:
        """One input to one instance, through the node's own output executor (group commit:
        the journal is synced once, after the outputs of the input)."""
        replica = instance.replica
        executor = instance.executor
        if replica is None or executor is None or not instance.alive:
            return
        local_now = self.now + instance.skew_ms
        executor.run(lambda: action(replica, local_now))
        executor.sync()

    def on_halt(self, instance: Instance, reason: str) -> None:
        """The executor halted: an injected fault takes the node down until its restart; any
        other exception is an honest replica breaking an invariant."""
        instance.alive = False
        instance.replica = None
        instance.incarnation += 1
        if instance.armed_fault is not None:
            self.faults[instance.armed_fault] += 1
            instance.armed_fault = None
            instance.disk.crash()
        elif instance.is_honest:
            self.safety.on_assertion(instance.node_id, reason, self.now)

    def check_durable_before_sent(self, instance: Instance, message: SignedMessage) -> None:
        """An honest validator sends a journaled message only once its record is durable, and
        never two different messages for one journal key."""
        body = message.body
        key = compute_journal_key(body)
        if key is None or message.signer != instance.node_id:
            return
        if not instance.disk.is_durable(message):
            self.safety.on_unjournaled_send(instance.node_id, type(body).__name__, self.now)
        known = instance.sent_signatures.setdefault(key, message.signature)
        if known != message.signature:
            self.safety.on_equivocation(instance.node_id, type(body).__name__, self.now)

    # --- network ------------------------------------------------------------------

    def transmit(self, sender: int, output: Send | Broadcast) -> None:
        payload: SignedMessage | bytes = output.message
        if self.wire_bytes:
            payload = encode_message(output.message)
        if isinstance(output, Send):
            self.send(sender, output.to, payload)
        else:
            for peer in range(self.scenario.nodes):
                if peer != sender:
                    self.send(sender, peer, payload)

    def send(self, sender: int, receiver: int, payload: SignedMessage | bytes) -> None:
        """Put one message on the wire, through whatever faults are active now."""
        self.messages += 1
        scenario = self.scenario
        rng = self.rng
        delay = rng.randint(scenario.latency_ms_min, scenario.latency_ms_max)
        if self.now < scenario.heal_ms:
            link = (sender, receiver)
            for blocked in self.active_partitions:
                if link in blocked:
                    return
            if rng.randrange(1000) < scenario.loss_per_mille:
                self.faults["loss"] += 1
                return
            if rng.randrange(1000) < scenario.reorder_per_mille:
                self.faults["reordering"] += 1
                delay += rng.randint(1, scenario.reorder_delay_ms_max)
            if rng.randrange(1000) < scenario.duplication_per_mille:
                self.faults["duplication"] += 1
                self.push(self.now + delay + rng.randint(0, 50), _DELIVER, receiver, payload)
        self.push(self.now + delay, _DELIVER, receiver, payload)

    def _deliver(self, receiver: int, payload: SignedMessage | bytes) -> None:
        for instance in self.instances[receiver]:
            if not instance.alive or instance.replica is None:
                continue
            if isinstance(payload, bytes):
                self._call(instance, lambda r, now: r.on_bytes(payload, now))
            else:
                self._call(instance, lambda r, now: r.on_message(payload, now))

    def _partition(self, blocked: frozenset[tuple[int, int]], starts: bool, kind: str) -> None:
        if starts:
            self.faults[kind] += 1
            self.active_partitions.append(blocked)
        elif blocked in self.active_partitions:
            self.active_partitions.remove(blocked)

    # --- clients, byzantine ticks, crashes ----------------------------------------------

    def _submit_tx(self) -> None:
        self.tx_counter += 1
        if self.exchange_load is not None:
            tx = self.exchange_load.next_tx(self.load_rng)
        else:
            tx = b"tx:%d:%d" % (self.seed, self.tx_counter)
        scenario = self.scenario
        for node in range(scenario.nodes):
            delay = self.rng.randint(scenario.latency_ms_min, scenario.latency_ms_max)
            self.push(self.now + delay, _CLIENT_TX, node, tx)
        next_ms = self.now + scenario.tx_interval_ms
        if next_ms < scenario.duration_ms:
            self.push(next_ms, _CLIENT_LOAD, None)

    def _deliver_client_tx(self, node: int, tx: bytes) -> None:
        for instance in self.instances[node]:
            if instance.behaviour is not None and not instance.behaviour.receives_client_txs:
                continue
            self._call(instance, lambda r, now: r.on_client_tx(tx, now))

    def _tick(self, instance: Instance) -> None:
        behaviour = instance.behaviour
        assert behaviour is not None and behaviour.tick_interval_ms
        if instance.alive and instance.replica is not None:
            behaviour.on_tick(self.adversary, instance.node_id, instance.replica)
        self.push(self.now + behaviour.tick_interval_ms, _TICK, instance)

    def _crash_or_arm(self, node: int, kind: str) -> None:
        if kind == "crash":
            self._crash(node)
            return
        for instance in self.instances[node]:  # the fault fires at a later output of this node
            if instance.alive and instance.replica is not None:
                instance.armed_fault = kind
                instance.fault_countdown = self.adversary_rng.randint(0, 12)

    def _crash(self, node: int) -> None:
        for instance in self.instances[node]:
            self.faults["crash"] += 1
            instance.alive = False
            instance.replica = None
            instance.incarnation += 1
            instance.disk.crash()

    def _restart(self, node: int) -> None:
        for instance in self.instances[node]:
            instance.armed_fault = None  # an injected fault that never fired is withdrawn
            if instance.alive and instance.replica is not None:
                continue
            self.faults["restart"] += 1
            instance.alive = True
            disk = instance.disk
            application = self._create_application()
            executed = tuple(disk.executed)
            if executed:  # the store gives back the state after the last executed block
                last = executed[-1]
                assert application.restore_snapshot(last.height, disk.snapshot, last.state_root)
            instance.unsaved_history = []
            instance.replica = self._create_replica(instance, application)
            self._start_from(instance, disk.load(), executed)
        for others in self.all_instances:
            if others.behaviour is not None and others.alive and others.replica is not None:
                others.behaviour.on_restart(self.adversary, others.node_id, node)

    # --- verdict --------------------------------------------------------------------

    def _check_memory(self) -> None:
        """Memory bounds of every honest replica now (at the heal: the end of the worst)."""
        for instance in self.all_instances:
            if instance.is_honest and instance.alive and instance.replica is not None:
                self.memory_violations.extend(
                    find_memory_violations(
                        instance.node_id,
                        instance.replica,
                        len(instance.disk.records),
                        self.config,
                    )
                )

    def _result(self) -> SeedResult:
        scenario = self.scenario
        honest = [i for i in self.all_instances if i.is_honest]
        result = SeedResult(
            seed=self.seed,
            simulated_ms=scenario.duration_ms,
            blocks_committed=max((i.replica.last_executed for i in honest if i.replica), default=0),
            view_changes=max((i.replica.view for i in honest if i.replica), default=0),
            messages=self.messages,
            faults=self.faults,
            safety_violations=list(self.safety.violations),
        )
        self._check_memory()
        result.memory_violations = self.memory_violations[:20]
        for instance in honest:
            replica = instance.replica
            if replica is None or not instance.alive:
                continue
            result.dropped.update(replica.dropped)
            if instance.last_commit_ms < scenario.heal_ms:
                result.liveness_failures.append(
                    f"node {instance.node_id}: no commit between the heal at "
                    f"{scenario.heal_ms}ms and the end at {scenario.duration_ms}ms "
                    f"(height {replica.last_executed}, view {replica.view}, "
                    f"{replica.status.value})"
                )
        return result


class SimulatedPorts:
    """The simulator's disk, network and timers as ports of the node's `OutputExecutor`.

    Every port call is one output executed; an armed ``output_exception``
    raises at one of them, an armed ``crash_before_persist`` at the next
    journal sync (the record is lost, as in a crash before fsync).
    """

    def __init__(self, simulation: Simulation, instance: Instance) -> None:
        self.simulation = simulation
        self.instance = instance

    def _maybe_raise(self) -> None:
        instance = self.instance
        if instance.armed_fault != "output_exception":
            return
        if instance.fault_countdown == 0:
            raise InjectedFault("injected: an exception at an output")
        instance.fault_countdown -= 1

    def save_journal(self, records: list[JournalRecord]) -> None:
        if self.instance.armed_fault == "crash_before_persist":
            raise InjectedFault("injected: a crash between signing and persisting")
        self._maybe_raise()
        for record in records:
            self.instance.disk.save(record)

    def request_sync(self) -> None:
        self._maybe_raise()  # the simulator syncs once after each input (`Simulation._call`)

    def send(self, to: int | None, message: SignedMessage) -> None:
        self._maybe_raise()
        simulation, instance = self.simulation, self.instance
        output: Send | Broadcast = Broadcast(message) if to is None else Send(to, message)
        if instance.behaviour is None:
            simulation.check_durable_before_sent(instance, message)
            simulation.transmit(instance.node_id, output)
        else:
            instance.behaviour.on_output(simulation.adversary, instance.node_id, output)

    def set_timer(self, kind: TimerKind, deadline_ms: int) -> None:
        self._maybe_raise()
        simulation, instance = self.simulation, self.instance
        at_ms = max(simulation.now, deadline_ms - instance.skew_ms)
        simulation.push(at_ms, _TIMER, instance, kind, instance.incarnation)

    def save_committed(self, committed: Committed) -> None:
        self._maybe_raise()
        simulation, instance = self.simulation, self.instance
        application = instance.application
        assert application is not None
        instance.unsaved_history.append(committed.history)
        if application.state_root() == committed.state_root:
            # The fake store keeps one state snapshot, so it saves when the application is at
            # this block's state: with the blocks before it that executed in the same call.
            instance.disk.save_executed(
                tuple(instance.unsaved_history), application.create_snapshot()
            )
            instance.unsaved_history.clear()
        instance.last_commit_ms = simulation.now
        instance.commits += 1
        if instance.is_honest:
            simulation.safety.on_committed(instance.node_id, committed, simulation.now)

    def save_restored(self, restored: StateRestored) -> None:
        self._maybe_raise()
        simulation, instance = self.simulation, self.instance
        application = instance.application
        assert application is not None
        instance.unsaved_history = list(restored.history)
        if application.state_root() == restored.state_root:
            instance.disk.save_executed(restored.history, application.create_snapshot())
            instance.unsaved_history.clear()
        instance.last_commit_ms = simulation.now
        if instance.is_honest:
            simulation.safety.on_restored(
                instance.node_id, restored.height, restored.state_root, simulation.now
            )

    def on_view_installed(self, view: int) -> None:
        self._maybe_raise()

    def on_halt(self, reason: str, details: str) -> None:
        self.simulation.on_halt(self.instance, reason)
