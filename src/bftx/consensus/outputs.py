"""What a replica asks its runtime to do, and what it writes to its journal.

A `Replica` method returns a list of output records; the runtime (the node's
asyncio shell, or the simulator) executes them in order. The one ordering
rule: a `Persist` must be durable before any output after it is executed, so a
vote is on disk before it can be seen (docs/consensus.md, "Durability"). This
module owns the records and the journal pruning rule; it never performs I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from bftx.consensus.messages import (
    Block,
    CheckpointProof,
    Commit,
    CommitCertificate,
    HistoryEntry,
    NewView,
    Prepare,
    PreparedCertificate,
    PrePrepare,
    SignedMessage,
    ViewChange,
)


class TimerKind(enum.Enum):
    PROPOSE = "propose"  # the primary's block interval
    PROGRESS = "progress"  # no commit (or no NEW-VIEW) by then starts a view change
    RETRANSMIT = "retransmit"  # resend own messages and fetch when nothing moved


# --- journal records ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """A message this replica signed: it signs nothing else for the same slot again."""

    message: SignedMessage


@dataclass(frozen=True, slots=True)
class PreparedRecord:
    """A prepared certificate, saved before the COMMIT that depends on it."""

    certificate: PreparedCertificate


@dataclass(frozen=True, slots=True)
class ViewRecord:
    """The replica installed ``view``."""

    view: int


@dataclass(frozen=True, slots=True)
class PruneRecord:
    """Records at or below the stable checkpoint ``seq`` and votes of views below ``view`` may go.

    Written when a checkpoint becomes stable and when a view is installed: a
    replica never signs anything for an earlier view again, so only its
    highest prepared certificate per sequence number is still needed.
    """

    seq: int
    view: int
    proof: CheckpointProof | None  # a restarted replica resumes its watermark window from it


JournalRecord: TypeAlias = SignedRecord | PreparedRecord | ViewRecord | PruneRecord


def compute_record_view(record: JournalRecord) -> int:
    if isinstance(record, PreparedRecord):
        return record.certificate.view
    if isinstance(record, ViewRecord | PruneRecord):
        return record.view
    body = record.message.body
    if isinstance(body, ViewChange):
        return body.new_view
    assert isinstance(body, PrePrepare | Prepare | Commit | NewView)
    return body.view


def compute_record_seq(record: JournalRecord) -> int | None:
    if isinstance(record, PreparedRecord):
        return record.certificate.seq
    if isinstance(record, SignedRecord) and isinstance(
        record.message.body, PrePrepare | Prepare | Commit
    ):
        return record.message.body.seq
    return None


def prune_journal(records: Iterable[JournalRecord], prune: PruneRecord) -> list[JournalRecord]:
    """The records a journal keeps after ``prune``: what a restarted replica still needs."""
    records = list(records)
    highest_prepared: dict[int, int] = {}
    for record in records:
        if isinstance(record, PreparedRecord):
            certificate = record.certificate
            highest_prepared[certificate.seq] = max(
                highest_prepared.get(certificate.seq, -1), certificate.view
            )
    kept: list[JournalRecord] = []
    for record in records:
        if isinstance(record, PruneRecord):
            continue
        seq = compute_record_seq(record)
        if seq is not None and seq <= prune.seq:
            continue
        view = compute_record_view(record)
        if isinstance(record, PreparedRecord):
            if view == highest_prepared[record.certificate.seq]:
                kept.append(record)
        elif view >= prune.view:
            kept.append(record)
    kept.append(prune)
    return kept


# --- outputs ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    to: int
    message: SignedMessage


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send to every other validator."""

    message: SignedMessage


@dataclass(frozen=True, slots=True)
class Persist:
    """Make ``record`` durable before executing any later output."""

    record: JournalRecord


@dataclass(frozen=True, slots=True)
class Committed:
    """Block ``block.height`` is final and executed; save it with its certificate.

    ``history`` is what a restart needs to resume from the store: pass the
    last pipeline-depth entries to `Replica.start` as ``executed``.
    """

    block: Block
    certificate: CommitCertificate
    state_root: bytes
    history: HistoryEntry  # height, digest, state root and the timestamp the block executed with


@dataclass(frozen=True, slots=True)
class StateRestored:
    """State transfer installed a verified snapshot at ``height``; save the new chain tail."""

    height: int
    state_root: bytes
    history: tuple[HistoryEntry, ...]  # the last pipeline-depth entries up to ``height``


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Call ``on_timer(kind, now)`` at ``deadline_ms`` (replaces any earlier deadline of that kind)."""

    kind: TimerKind
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class ViewInstalled:
    view: int


Output: TypeAlias = (
    Send | Broadcast | Persist | Committed | StateRestored | SetTimer | ViewInstalled
)
