"""Test hooks read from the environment at node start: injected faults and deliberate bugs.

These exist so that tests (and `bftx chaos`'s own test) can show that a
checker fails when the property it checks is broken, against real node
processes. They are never set in production: nothing in a config file or on
the command line reaches them, and a node started with one says so in its
log (WARNING).

- ``BFTX_FAULT_EXECUTE_HEIGHT=N``: the application raises `InjectedFault`
  when it executes block N (N >= 1). Shows that an exception inside the
  application halts the node and that a restart without the variable
  recovers from the store.
- ``BFTX_MUTANT=recommit``: puts the exactly-once bug back: after each
  committed block the node offers the block's txs to its mempool and the
  replica's proposal pool again, skipping the committed-tx filters, so a
  later block can carry a tx that was already final.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from bftx.errors import ConfigError

FAULT_EXECUTE_HEIGHT = "BFTX_FAULT_EXECUTE_HEIGHT"
MUTANT = "BFTX_MUTANT"
MUTANTS = ("recommit",)


class InjectedFault(RuntimeError):
    """Raised on purpose by a test hook, standing for a bug in the application."""


@dataclass(frozen=True, slots=True)
class TestHooks:
    __test__ = False  # not a pytest test class

    fault_execute_height: int | None = None
    mutant: str | None = None

    @property
    def active(self) -> bool:
        return self.fault_execute_height is not None or self.mutant is not None

    @property
    def recommits(self) -> bool:
        return self.mutant == "recommit"

    @staticmethod
    def from_environment(environment: Mapping[str, str] | None = None) -> TestHooks:
        """The hooks set in ``environment`` (default: the process's); `ConfigError` on a bad value."""
        values = os.environ if environment is None else environment
        height_text = values.get(FAULT_EXECUTE_HEIGHT, "").strip()
        height: int | None = None
        if height_text:
            if not height_text.isdigit() or int(height_text) < 1:
                raise ConfigError(
                    f"{FAULT_EXECUTE_HEIGHT}={height_text!r}: expected a block height >= 1"
                )
            height = int(height_text)
        mutant = values.get(MUTANT, "").strip() or None
        if mutant is not None and mutant not in MUTANTS:
            raise ConfigError(f"{MUTANT}={mutant!r}: expected one of {', '.join(MUTANTS)}")
        return TestHooks(height, mutant)
