"""The Ethereum side of bftx atomic swaps.

Owns: the HashedTimelock contract's ABI and bytecode (compiled from
contracts/ethereum/ with a pinned solc), a web3.py client for it (deploy, lock,
withdraw, refund, find a lock, read a revealed preimage), and connections to a
chain: any JSON-RPC node, or eth-tester's in-process EVM for tests and the demo.
Must never: be imported by the cores (`bftx.exchange`, `bftx.consensus`).
"""

from bftx.ethereum.chain import WEI_PER_ETHER, DevChain, connect, load_key, save_key
from bftx.ethereum.htlc import (
    EthereumError,
    EthereumHtlc,
    EthereumLock,
    LockState,
    compute_hashlock,
    compute_lock_id,
    load_artifact,
)

__all__ = [
    "WEI_PER_ETHER",
    "DevChain",
    "EthereumError",
    "EthereumHtlc",
    "EthereumLock",
    "LockState",
    "compute_hashlock",
    "compute_lock_id",
    "connect",
    "load_artifact",
    "load_key",
    "save_key",
]
