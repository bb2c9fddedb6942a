"""One leg of a swap: an HTLC on one chain, seen through one interface.

The driver (`bftx.swap.driver`) never knows which chain it talks to. A `Leg`
locks, claims and refunds for its owner, and reads locks, revealed preimages
and the chain's clock *as far as they are final*. Amounts are integers in the
asset's smallest unit (wei on Ethereum), times are ms, lock ids and addresses
are hex strings, so a swap's state is plain JSON.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address

from bftx.ethereum.htlc import EthereumHtlc, LockState


class LockStatus(enum.Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class LockView:
    """A lock as its chain has it, final."""

    lock_id: str
    sender: str
    receiver: str
    asset: str
    amount: int
    hashlock: bytes
    expiry_ms: int
    status: LockStatus
    preimage: bytes | None


class Leg(Protocol):
    """An HTLC on one chain, driven by one party (`address`)."""

    chain: str  # "bftx" or "ethereum": shown to people and saved in the swap state
    asset: str
    decimals: int

    @property
    def address(self) -> str:
        """The owner's address on this chain (where it receives, what it locks from)."""
        ...

    def normalize_address(self, address: str) -> str:
        """The canonical form of an address on this chain; ValueError if it is not one."""
        ...

    def now_ms(self) -> int:
        """The chain's clock: the timestamp of its latest final block."""
        ...

    def lock(self, receiver: str, hashlock: bytes, expiry_ms: int, amount: int) -> str:
        """Lock ``amount`` for ``receiver``; returns the lock id once the lock is final."""
        ...

    def find_lock(self, lock_id: str) -> LockView | None: ...

    def find_lock_for(
        self, sender: str, receiver: str, hashlock: bytes, amount: int, expiry_ms: int
    ) -> LockView | None:
        """The final lock with exactly these terms, if the chain lets one look it up."""
        ...

    def revealed_preimage(self, lock_id: str) -> bytes | None: ...

    def claim(self, lock_id: str, preimage: bytes) -> None: ...

    def refund(self, lock_id: str) -> None: ...

    def balance(self, address: str) -> int: ...


class EthereumLeg:
    """Ether in the HashedTimelock contract. Timelocks are whole seconds on Ethereum: an
    expiry in ms is rounded down to one, and the lock reports the rounded value."""

    chain = "ethereum"
    asset = "ETH"
    decimals = 18

    def __init__(self, htlc: EthereumHtlc, account: LocalAccount, *, finality_ms: int) -> None:
        self.htlc = htlc
        self.account = account
        self.finality_ms = finality_ms

    @property
    def address(self) -> str:
        return str(self.account.address)

    def normalize_address(self, address: str) -> str:
        if not is_address(address):
            raise ValueError(f"{address!r} is not an Ethereum address")
        return str(to_checksum_address(address))

    def now_ms(self) -> int:
        return self.htlc.final_timestamp_s() * 1000

    def lock(self, receiver: str, hashlock: bytes, expiry_ms: int, amount: int) -> str:
        lock_id = self.htlc.lock(self.account, receiver, hashlock, expiry_ms // 1000, amount)
        return "0x" + lock_id.hex()

    def find_lock(self, lock_id: str) -> LockView | None:
        found = self.htlc.get_lock(bytes.fromhex(lock_id.removeprefix("0x")))
        if found is None:
            return None
        status = {
            LockState.OPEN: LockStatus.OPEN,
            LockState.WITHDRAWN: LockStatus.CLAIMED,
            LockState.REFUNDED: LockStatus.REFUNDED,
        }[found.state]
        return LockView(
            lock_id="0x" + found.id.hex(),
            sender=found.sender,
            receiver=found.receiver,
            asset=self.asset,
            amount=found.amount_wei,
            hashlock=found.hashlock,
            expiry_ms=found.timelock_s * 1000,
            status=status,
            preimage=found.preimage,
        )

    def find_lock_for(
        self, sender: str, receiver: str, hashlock: bytes, amount: int, expiry_ms: int
    ) -> LockView | None:
        from bftx.ethereum.htlc import compute_lock_id

        lock_id = compute_lock_id(sender, receiver, amount, hashlock, expiry_ms // 1000)
        return self.find_lock("0x" + lock_id.hex())

    def revealed_preimage(self, lock_id: str) -> bytes | None:
        return self.htlc.revealed_preimage(bytes.fromhex(lock_id.removeprefix("0x")))

    def claim(self, lock_id: str, preimage: bytes) -> None:
        self.htlc.withdraw(self.account, bytes.fromhex(lock_id.removeprefix("0x")), preimage)

    def refund(self, lock_id: str) -> None:
        self.htlc.refund(self.account, bytes.fromhex(lock_id.removeprefix("0x")))

    def balance(self, address: str) -> int:
        return self.htlc.balance_wei(address)
