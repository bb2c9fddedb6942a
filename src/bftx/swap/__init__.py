"""Atomic swaps between bftx and Ethereum (or any two chains with an HTLC).

Owns: the timing rule and its refusals (`timing`), one interface over an HTLC
on any chain (`legs`), a party's saved progress (`state`), and the protocol
driver with its restartable watcher (`driver`). docs/settlement.md describes
the protocol. Must never: be imported by the cores.
"""

from bftx.swap.driver import SwapDriver
from bftx.swap.legs import EthereumLeg, Leg, LockStatus, LockView
from bftx.swap.state import Phase, Role, SwapState, Terms, load_state, save_state
from bftx.swap.timing import ChainTiming, SwapTiming, UnsafeSwap

__all__ = [
    "ChainTiming",
    "EthereumLeg",
    "Leg",
    "LockStatus",
    "LockView",
    "Phase",
    "Role",
    "SwapDriver",
    "SwapState",
    "SwapTiming",
    "Terms",
    "UnsafeSwap",
    "load_state",
    "save_state",
]
