"""PBFT consensus for bftx: a sans-IO replica, blocks, certificates and the application boundary.

This package owns agreement on one sequence of blocks with finality while up to
f = (n-1)//3 validators are byzantine (DESIGN.md section 4, docs/consensus.md).
It sees transactions as opaque bytes and imports only the shared foundations:
never an application, asyncio, sockets, clocks or randomness.

Public surface for the node layer:
- `Replica` (inputs `start`, `on_message`, `on_bytes`, `on_client_tx`, `on_timer`; each returns outputs)
- output records `Send`, `Broadcast`, `Persist`, `Committed`, `StateRestored`, `SetTimer`, `ViewInstalled`
- `Application`, the protocol an application implements
- `ValidatorSet`, `ConsensusConfig`, `verify_commit_certificate`
- `apply_certified_block` (with `ChainRules`, `InvalidCertifiedBlock`): the one path a
  certified block takes into the application (replica, recovery, follower)
"""

from __future__ import annotations

from bftx.consensus.application import CHECK_TX_OK, Application
from bftx.consensus.certificates import (
    SignatureCheck,
    ValidatorSet,
    verify_checkpoint_proof,
    verify_commit_certificate,
    verify_prepared_certificate,
)
from bftx.consensus.certified import (
    ChainRules,
    InvalidCertifiedBlock,
    apply_certified_block,
    verify_certified_block,
)
from bftx.consensus.config import ConsensusConfig
from bftx.consensus.messages import (
    Block,
    BlockHeader,
    CommitCertificate,
    SignedMessage,
    decode_message,
    encode_message,
)
from bftx.consensus.outputs import (
    Broadcast,
    Committed,
    JournalRecord,
    Output,
    Persist,
    PruneRecord,
    Send,
    SetTimer,
    StateRestored,
    TimerKind,
    ViewInstalled,
    prune_journal,
)
from bftx.consensus.policy import HONEST, MutantPolicy
from bftx.consensus.replica import Replica, Status

__all__ = [
    "CHECK_TX_OK",
    "HONEST",
    "Application",
    "Block",
    "BlockHeader",
    "Broadcast",
    "ChainRules",
    "CommitCertificate",
    "Committed",
    "ConsensusConfig",
    "InvalidCertifiedBlock",
    "JournalRecord",
    "MutantPolicy",
    "Output",
    "Persist",
    "PruneRecord",
    "Replica",
    "Send",
    "SetTimer",
    "SignatureCheck",
    "SignedMessage",
    "StateRestored",
    "Status",
    "TimerKind",
    "ValidatorSet",
    "ViewInstalled",
    "apply_certified_block",
    "decode_message",
    "encode_message",
    "prune_journal",
    "verify_certified_block",
    "verify_checkpoint_proof",
    "verify_commit_certificate",
    "verify_prepared_certificate",
]
