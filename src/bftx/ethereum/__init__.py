"""The Ethereum side of bftx atomic swaps.

Owns: the HashedTimelock contract's ABI and bytecode (compiled from
contracts/ethereum/ with a pinned solc), a web3.py client for it (deploy, lock,
withdraw, refund, find a lock, read a revealed preimage), and connections to a
chain: any JSON-RPC node, or eth-tester's in-process EVM for tests and the demo.
Must never: be imported by the cores (`bftx.exchange`, `bftx.consensus`).
"""

import sys

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

# web3 imports py_ecc, which raises the interpreter's recursion limit to 100,000 for its own
# use (none of it bftx's). That limit is the C JSON decoder's only depth guard, and at 100,000
# a 200 kB body of brackets from any peer (a bftx node, an RPC endpoint) overflows the C stack
# and kills the process: a swap watcher could be stopped that way. py-evm's EVM (eth-tester)
# asks for 12,288 frames, which is kept.
EVM_RECURSION_LIMIT = 1024 * 12
sys.setrecursionlimit(min(sys.getrecursionlimit(), EVM_RECURSION_LIMIT))

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
