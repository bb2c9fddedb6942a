"""A fake disk per simulated node: the consensus journal, honouring `Persist`.

It survives a simulated crash (the replica's memory does not). It owns the
records and applies the journal pruning rule from `bftx.consensus`; it also
plays the node's store, keeping the executed chain tail and the application
snapshot after the last executed block (DESIGN.md section 6). The
``forget-votes`` mutant makes `lose_on_crash` true: the journal is not
honoured across a crash, which the checkers must catch.
"""

from __future__ import annotations

from bftx.consensus import JournalRecord, PruneRecord, SignedMessage, prune_journal
from bftx.consensus.messages import HistoryEntry
from bftx.consensus.outputs import SignedRecord


class FakeDisk:
    """The journal (votes) and the node's store (executed chain tail and state snapshot)."""

    def __init__(self, pipeline_depth_blocks: int, lose_on_crash: bool = False) -> None:
        self.records: list[JournalRecord] = []
        self.lose_on_crash = lose_on_crash
        self.writes = 0
        self.depth = pipeline_depth_blocks
        self.executed: list[HistoryEntry] = []
        self.snapshot = b""
        # Signatures of every signed record ever made durable: the checker's ground truth for
        # "sent only once durable" (pruning a record later does not undo that it was saved).
        self.durable_signatures: set[bytes] = set()

    def save_executed(self, history: tuple[HistoryEntry, ...], snapshot: bytes) -> None:
        """The store's one atomic write per block: the chain tail and the state after it."""
        if self.executed and history[0].height == self.executed[-1].height + 1:
            self.executed = self.executed + list(history)
        else:
            self.executed = list(history)
        self.executed = self.executed[-self.depth :]
        self.snapshot = snapshot

    def save(self, record: JournalRecord) -> None:
        self.writes += 1
        if isinstance(record, SignedRecord):
            self.durable_signatures.add(record.message.signature)
        if isinstance(record, PruneRecord):
            self.records = prune_journal(self.records, record)
        else:
            self.records.append(record)

    def is_durable(self, message: SignedMessage) -> bool:
        return message.signature in self.durable_signatures

    def load(self) -> tuple[JournalRecord, ...]:
        return tuple(self.records)

    def crash(self) -> None:
        if self.lose_on_crash:
            self.records = []
