"""The output executor the node and the simulator share: persist before send, halt on failure."""

from __future__ import annotations

import pytest

from bftx.consensus import (
    Broadcast,
    Committed,
    MutantPolicy,
    Output,
    Persist,
    Send,
    SetTimer,
    StateRestored,
    TimerKind,
)
from bftx.consensus.executor import OutputExecutor
from bftx.consensus.messages import (
    CommitCertificate,
    HistoryEntry,
    Prepare,
    PrePrepare,
    SignedMessage,
)
from bftx.consensus.outputs import JournalRecord, SignedRecord
from tests.consensus.support import make_chain, make_first_block, make_replica, sign

CONFIG, KEYS = make_chain()


class RecordingPorts:
    """Ports that log what reached the disk and the network, and fail on request."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.events: list[tuple[str, object]] = []
        self.fail_on = fail_on
        self.halts: list[str] = []
        self.sync_requests = 0

    def _maybe_fail(self, what: str) -> None:
        if self.fail_on == what:
            raise OSError(f"{what} failed")

    def save_journal(self, records: list[JournalRecord]) -> None:
        self._maybe_fail("journal")
        self.events.extend(("journal", record) for record in records)

    def request_sync(self) -> None:
        self.sync_requests += 1

    def send(self, to: int | None, message: SignedMessage) -> None:
        self._maybe_fail("send")
        self.events.append(("send", message))

    def set_timer(self, kind: TimerKind, deadline_ms: int) -> None:
        self._maybe_fail("timer")
        self.events.append(("timer", deadline_ms))

    def save_committed(self, committed: Committed) -> None:
        self.events.append(("committed", committed.block.height))

    def save_restored(self, restored: StateRestored) -> None:
        self.events.append(("restored", restored.height))

    def on_view_installed(self, view: int) -> None:
        self.events.append(("view", view))

    def on_halt(self, reason: str, details: str) -> None:
        self.halts.append(reason)


def vote(seq: int = 1) -> SignedMessage:
    return sign(KEYS, 1, Prepare(0, seq, make_first_block(seq=seq).digest))


def persisted_vote(seq: int = 1) -> list[Output]:
    message = vote(seq)
    return [Persist(SignedRecord(message)), Broadcast(message)]


def test_send_behind_a_persist_waits_for_the_journal_sync() -> None:
    ports = RecordingPorts()
    executor = OutputExecutor(ports)
    executor.execute([*persisted_vote(), SetTimer(TimerKind.PROGRESS, 5)])
    assert [kind for kind, _ in ports.events] == ["timer"]  # local outputs run at once
    assert ports.sync_requests == 1
    executor.sync()
    assert [kind for kind, _ in ports.events] == ["timer", "journal", "send"]


def test_failed_journal_sync_halts_and_never_sends_the_votes_behind_it() -> None:
    ports = RecordingPorts(fail_on="journal")
    executor = OutputExecutor(ports)
    executor.execute(persisted_vote())
    executor.sync()
    assert ports.events == [] and executor.halted is not None
    assert ports.halts == [executor.halted]
    executor.execute([Send(2, vote(2))])
    assert ports.events == []  # nothing after a halt


def test_exception_at_an_output_drops_the_rest_of_the_list() -> None:
    ports = RecordingPorts(fail_on="timer")
    executor = OutputExecutor(ports)
    executor.execute([*persisted_vote(), SetTimer(TimerKind.RETRANSMIT, 9), Send(2, vote(2))])
    executor.sync()
    assert ports.events == []
    assert executor.halted is not None and "SetTimer" in executor.halted


def test_exception_in_the_replica_call_halts_before_any_output() -> None:
    ports = RecordingPorts()
    executor = OutputExecutor(ports)

    def broken() -> list[Output]:
        raise AssertionError("invariant broken")

    executor.run(broken)
    assert executor.halted is not None and "invariant broken" in executor.halted
    executor.run(persisted_vote)
    executor.sync()
    assert ports.events == []


def test_send_before_persist_mutant_sends_a_vote_that_is_not_durable() -> None:
    """The rule matters: without it the vote is on the wire before its record is saved."""
    ports = RecordingPorts()
    executor = OutputExecutor(ports, MutantPolicy(name="m", send_before_persist=True))
    executor.execute(persisted_vote())
    assert [kind for kind, _ in ports.events] == ["send"]


def test_signed_message_is_not_kept_when_the_call_that_signed_it_raises() -> None:
    replica = make_replica(CONFIG, KEYS, 1)
    replica.start(0)
    block = make_first_block()

    def failing_record_vote(*args: object) -> None:  # the call raises after PREPARE is signed
        raise RuntimeError("boom after signing")

    replica._record_vote = failing_record_vote  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        replica.on_message(sign(KEYS, 0, PrePrepare(0, 1, block)), 20)
    assert replica.signed == {}, "a vote whose Persist never ran must not be resent later"


def test_block_saved_only_once_the_votes_that_committed_it_are_durable() -> None:
    """A crash between the own COMMIT and its sync must not leave the block in the store."""
    block = make_first_block()
    certificate = CommitCertificate(0, 1, block.digest, ())
    entry = HistoryEntry(1, block.digest, b"\x00" * 32, 10)
    ports = RecordingPorts(fail_on="journal")
    executor = OutputExecutor(ports)
    executor.execute([*persisted_vote(), Committed(block, certificate, entry.state_root, entry)])
    assert ports.events == []  # held behind the unsynced record
    executor.sync()  # the sync fails: halted, and the block was never saved
    assert ports.events == [] and executor.halted is not None
