"""A fake disk per simulated node: the consensus journal, honouring `Persist`.

It survives a simulated crash (the replica's memory does not). It owns the
records and applies the journal pruning rule from `bftx.consensus`. The
``forget-votes`` mutant makes `lose_on_crash` true: the journal is not
honoured across a crash, which the checkers must catch.
"""

from __future__ import annotations

from bftx.consensus import JournalRecord, PruneRecord, prune_journal


class FakeDisk:
    def __init__(self, lose_on_crash: bool = False) -> None:
        self.records: list[JournalRecord] = []
        self.lose_on_crash = lose_on_crash
        self.writes = 0

    def save(self, record: JournalRecord) -> None:
        self.writes += 1
        if isinstance(record, PruneRecord):
            self.records = prune_journal(self.records, record)
        else:
            self.records.append(record)

    def load(self) -> tuple[JournalRecord, ...]:
        return tuple(self.records)

    def crash(self) -> None:
        if self.lose_on_crash:
            self.records = []
