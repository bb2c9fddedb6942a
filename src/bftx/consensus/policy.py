"""Deliberate protocol bugs ("mutants") for the simulator, and the honest default.

The simulator proves its checkers can fail by running replicas with a known
bug. A `MutantPolicy` is the only way to introduce one; it is a constructor
argument of `Replica` that defaults to `HONEST`. Production configuration
never builds a policy (the node passes none), so no mutant is reachable from a
config file or flag outside `bftx sim --mutant`. This module must never read
configuration or environment.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MutantPolicy:
    name: str = "honest"
    quorum_override: int | None = None  # weak-quorum: count f+1 as a quorum
    skip_signature_check: bool = False  # skip-signature-check: accept any signature
    send_before_persist: bool = False  # send-before-persist: the executor sends unsynced votes


HONEST = MutantPolicy()
