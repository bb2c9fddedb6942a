"""The one output executor: runs a replica's outputs against ports, halting at the first failure.

The node (asyncio, SQLite, TLS) and the simulator (fake disk, fake network,
virtual clock) both execute `Replica` outputs through `OutputExecutor`, so
the simulator tests the very rules the node runs on:

- **Persist before send, and before save.** A `Persist` is handed to the
  journal port and is durable only once `sync` returns; every
  `Send`/`Broadcast`, and every `Committed`/`StateRestored` (saving executed
  state), behind an unsynced record waits for that sync, in order. A block
  this replica committed with its own COMMIT is therefore never in the store
  while that vote could still be lost: a crash before the sync forgets both
  (the simulator's `crash_before_persist` found the difference). Timers and
  view notices run at once. A runtime may sync once per batch (group
  commit): it calls `sync` when ``request_sync`` asks for it.
- **Halt, never lie.** If the replica call or any port raises, the executor
  halts with the reason: the rest of the output list is dropped, records not
  yet synced and the messages waiting for them are discarded, and from then
  on nothing is executed, signed or sent. A restart recovers from the journal.

The executor performs no I/O itself and keeps no clock; it is pure dispatch
over the `OutputPorts` it is given.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Protocol

from bftx.consensus.messages import SignedMessage
from bftx.consensus.outputs import (
    Broadcast,
    Committed,
    JournalRecord,
    Output,
    Persist,
    Send,
    SetTimer,
    StateRestored,
    TimerKind,
    ViewInstalled,
)
from bftx.consensus.policy import HONEST, MutantPolicy


class OutputPorts(Protocol):
    """What a runtime plugs into the executor: disk (journal and store), network, timers."""

    def save_journal(self, records: list[JournalRecord]) -> None:
        """Make ``records`` durable (one synced write); raise if that is not possible."""
        ...

    def request_sync(self) -> None:
        """Records wait: call `OutputExecutor.sync` soon (now, or at the end of this batch)."""
        ...

    def send(self, to: int | None, message: SignedMessage) -> None:
        """Send to validator ``to``, or to every other validator when ``to`` is None."""
        ...

    def set_timer(self, kind: TimerKind, deadline_ms: int) -> None: ...

    def save_committed(self, committed: Committed) -> None:
        """The application executed the block: save it with its certificate and results."""
        ...

    def save_restored(self, restored: StateRestored) -> None:
        """State transfer installed a snapshot: save it and the chain tail."""
        ...

    def on_view_installed(self, view: int) -> None: ...

    def on_halt(self, reason: str, details: str) -> None:
        """The executor halted (``details`` holds the traceback): stop timers, report, log."""
        ...


class OutputExecutor:
    def __init__(self, ports: OutputPorts, policy: MutantPolicy = HONEST) -> None:
        self.ports = ports
        self.policy = policy  # only the simulator's send-before-persist mutant changes it
        self.halted: str | None = None
        self.unsynced: list[JournalRecord] = []
        self.held: list[Output] = []  # sends and saves waiting for the sync, in order

    def run(self, call: Callable[[], list[Output]], what: str = "replica") -> None:
        """Call the replica (``call`` returns its outputs) and execute them; halt if either raises."""
        if self.halted is not None:
            return
        try:
            outputs = call()
        except Exception as error:
            self.halt(f"{what} raised {error!r}", traceback.format_exc())
            return
        self.execute(outputs)

    def execute(self, outputs: list[Output]) -> None:
        for output in outputs:
            if self.halted is not None:
                return  # the rest of the list is dropped
            try:
                self._execute_one(output)
            except Exception as error:
                self.halt(
                    f"executing {type(output).__name__} raised {error!r}", traceback.format_exc()
                )

    def _execute_one(self, output: Output) -> None:
        ports = self.ports
        if isinstance(output, Persist):
            self.unsynced.append(output.record)
            ports.request_sync()
        elif isinstance(output, SetTimer):
            ports.set_timer(output.kind, output.deadline_ms)
        elif isinstance(output, ViewInstalled):
            ports.on_view_installed(output.view)
        elif self.unsynced and not self.policy.send_before_persist:
            self.held.append(output)
        else:
            self._release(output)

    def _release(self, output: Output) -> None:
        """A send or a save whose journal records are durable."""
        ports = self.ports
        if isinstance(output, Broadcast):
            ports.send(None, output.message)
        elif isinstance(output, Send):
            ports.send(output.to, output.message)
        elif isinstance(output, Committed):
            ports.save_committed(output)
        else:
            assert isinstance(output, StateRestored)
            ports.save_restored(output)

    def sync(self) -> None:
        """Make the waiting records durable, then send what waited for them, in order."""
        if self.halted is not None or not self.unsynced:
            return
        records, self.unsynced = self.unsynced, []
        try:
            self.ports.save_journal(records)
        except Exception as error:
            self.halt(f"saving the journal raised {error!r}", traceback.format_exc())
            return
        if self.halted is not None:
            return  # the port halted the runtime itself (a store error it reports its own way)
        held, self.held = self.held, []
        for output in held:
            if self.halted is not None:
                return
            try:
                self._release(output)
            except Exception as error:
                self.halt(
                    f"executing {type(output).__name__} raised {error!r}", traceback.format_exc()
                )
                return

    def halt(self, reason: str, details: str = "") -> None:
        """Stop for good: nothing more is synced, signed or sent."""
        if self.halted is not None:
            return
        self.halted = reason
        self.unsynced = []
        self.held = []
        self.ports.on_halt(reason, details)


__all__ = ["OutputExecutor", "OutputPorts"]
