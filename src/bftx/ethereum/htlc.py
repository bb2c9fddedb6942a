"""The Ethereum HTLC contract (contracts/ethereum/HashedTimelock.sol) through web3.py.

`EthereumHtlc` deploys the contract, locks, withdraws and refunds ether, finds a
lock by its deterministic id, and reads a revealed preimage from the contract's
``Withdrawn`` events. Every tx is signed locally with an `eth_account` key and
sent raw, so the same code drives eth-tester in-process and any JSON-RPC node.
Reads are made at the *final* block (latest minus ``confirmations``): the swap
watcher acts only on what the chain cannot take back.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractCustomError,
    ContractLogicError,
    TimeExhausted,
    Web3Exception,
)
from web3.types import TxParams, TxReceipt, Wei

from bftx.errors import BftxError

PREIMAGE_BYTES = 32
RECEIPT_TIMEOUT_S = 120


class EthereumError(BftxError):
    """An Ethereum call failed: a contract refusal (its custom error's name), a reverted
    or unmined tx, or a node error. The message says which."""


class LockState(enum.IntEnum):
    """``HashedTimelock.State``: the life of one lock."""

    NONE = 0
    OPEN = 1
    WITHDRAWN = 2
    REFUNDED = 3


@dataclass(frozen=True, slots=True)
class EthereumLock:
    """One lock as the contract stores it (``amount_wei`` in wei, ``timelock_s`` a block
    timestamp in seconds); ``preimage`` is set once it was withdrawn."""

    id: bytes
    sender: str
    receiver: str
    amount_wei: int
    hashlock: bytes
    timelock_s: int
    state: LockState
    preimage: bytes | None


@dataclass(frozen=True, slots=True)
class Artifact:
    """The compiled contract as contracts/ethereum/compile.js writes it."""

    abi: list[dict[str, Any]]
    bytecode: str
    compiler: str


def load_artifact() -> Artifact:
    """The committed ABI and bytecode (package data beside this module)."""
    text = resources.files("bftx.ethereum").joinpath("HashedTimelock.json").read_text()
    document = json.loads(text)
    return Artifact(document["abi"], document["bytecode"], document["compiler"])


def compute_hashlock(preimage: bytes) -> bytes:
    """SHA-256 of the 32-byte secret: the hashlock of both legs of a swap."""
    if len(preimage) != PREIMAGE_BYTES:
        raise ValueError(f"a preimage is {PREIMAGE_BYTES} bytes, not {len(preimage)}")
    return hashlib.sha256(preimage).digest()


def compute_lock_id(
    sender: str, receiver: str, amount_wei: int, hashlock: bytes, timelock_s: int
) -> bytes:
    """The id the contract gives these terms (``HashedTimelock.lockId``)."""
    encoded = abi_encode(
        ["address", "address", "uint256", "bytes32", "uint64"],
        [
            to_checksum_address(sender),
            to_checksum_address(receiver),
            amount_wei,
            hashlock,
            timelock_s,
        ],
    )
    return keccak(encoded)


class EthereumHtlc:
    """A deployed HashedTimelock contract on one chain."""

    def __init__(self, web3: Web3, address: str, *, confirmations: int = 0) -> None:
        if confirmations < 0:
            raise ValueError("confirmations must be zero or more")
        self.web3 = web3
        self.confirmations = confirmations
        self._artifact = load_artifact()
        self.contract: Contract = web3.eth.contract(
            address=to_checksum_address(address), abi=self._artifact.abi
        )
        self._errors = _error_selectors(self._artifact.abi)

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @classmethod
    def deploy(cls, web3: Web3, deployer: LocalAccount, *, confirmations: int = 0) -> EthereumHtlc:
        """Deploy a fresh contract from ``deployer`` and wait for it to be mined."""
        artifact = load_artifact()
        factory = web3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        transaction = factory.constructor().build_transaction(_base_params(web3, deployer))
        receipt = _send(web3, deployer, transaction)
        address = receipt["contractAddress"]
        if address is None:
            raise EthereumError("the deployment receipt has no contract address")
        return cls(web3, str(address), confirmations=confirmations)

    # ---- transactions -------------------------------------------------------------------

    def lock(
        self,
        sender: LocalAccount,
        receiver: str,
        hashlock: bytes,
        timelock_s: int,
        amount_wei: int,
    ) -> bytes:
        """Lock ``amount_wei`` from ``sender`` for ``receiver``; returns the lock id."""
        if len(hashlock) != 32:
            raise ValueError("a hashlock is 32 bytes (SHA-256)")
        if amount_wei <= 0:
            raise ValueError("the amount to lock must be positive")
        call = self.contract.functions.lock(to_checksum_address(receiver), hashlock, timelock_s)
        params = _base_params(self.web3, sender)
        params["value"] = Wei(amount_wei)
        self._transact(sender, call, params)
        return compute_lock_id(sender.address, receiver, amount_wei, hashlock, timelock_s)

    def withdraw(self, caller: LocalAccount, lock_id: bytes, preimage: bytes) -> str:
        """Pay the lock to its receiver by revealing ``preimage``; returns the tx hash."""
        if len(preimage) != PREIMAGE_BYTES:
            raise ValueError(f"a preimage is {PREIMAGE_BYTES} bytes")
        call = self.contract.functions.withdraw(lock_id, preimage)
        receipt = self._transact(caller, call, _base_params(self.web3, caller))
        return "0x" + bytes(receipt["transactionHash"]).hex()

    def refund(self, caller: LocalAccount, lock_id: bytes) -> str:
        """Return an expired lock to its sender; returns the tx hash."""
        call = self.contract.functions.refund(lock_id)
        receipt = self._transact(caller, call, _base_params(self.web3, caller))
        return "0x" + bytes(receipt["transactionHash"]).hex()

    # ---- reads (at the final block) -----------------------------------------------------

    def final_block_number(self) -> int:
        return max(0, int(self.web3.eth.block_number) - self.confirmations)

    def final_timestamp_s(self) -> int:
        """The timestamp of the final block: the contract's clock, as far as it is settled."""
        block = self.web3.eth.get_block(self.final_block_number())
        return int(block["timestamp"])

    def get_lock(self, lock_id: bytes) -> EthereumLock | None:
        """The lock with this id at the final block, or None if there is none (yet)."""
        final = self.final_block_number()
        try:
            raw = self.contract.functions.getLock(lock_id).call(block_identifier=final)
        except BadFunctionCallOutput as error:
            if not self.web3.eth.get_code(self.contract.address, final):
                return None  # the contract itself is not final yet
            raise EthereumError(f"no HashedTimelock at {self.address}: {error}") from error
        sender, receiver, amount, hashlock, timelock, state, preimage = raw
        if LockState(state) is LockState.NONE:
            return None
        return EthereumLock(
            id=lock_id,
            sender=str(sender),
            receiver=str(receiver),
            amount_wei=int(amount),
            hashlock=bytes(hashlock),
            timelock_s=int(timelock),
            state=LockState(state),
            preimage=bytes(preimage) if LockState(state) is LockState.WITHDRAWN else None,
        )

    def revealed_preimage(self, lock_id: bytes, from_block: int = 0) -> bytes | None:
        """The preimage a final ``Withdrawn`` event of this lock carries, checked against the
        event's hashlock, or None if the lock was not withdrawn (as far as is final)."""
        to_block = self.final_block_number()
        if from_block > to_block:
            return None
        events = self.contract.events.Withdrawn.get_logs(
            from_block=from_block, to_block=to_block, argument_filters={"id": lock_id}
        )
        for event in events:
            preimage = bytes(event["args"]["preimage"])
            if hashlib.sha256(preimage).digest() == bytes(event["args"]["hashlock"]):
                return preimage
        return None

    def balance_wei(self, address: str) -> int:
        return int(self.web3.eth.get_balance(to_checksum_address(address)))

    # ---- plumbing -----------------------------------------------------------------------

    def _transact(self, account: LocalAccount, call: Any, params: TxParams) -> TxReceipt:
        # Building the tx estimates its gas, which runs it: a refusal surfaces here, before
        # anything is sent (a JSON-RPC node reports it as ContractCustomError, eth-tester as
        # its own TransactionFailed).
        try:
            transaction = call.build_transaction(params)
        except Exception as error:
            data = revert_data(error)
            if data is None:
                raise EthereumError(f"the Ethereum node refused the tx: {error}") from error
            raise EthereumError(describe_revert(self._errors, data)) from error
        return _send(self.web3, account, transaction)


def revert_data(error: BaseException) -> bytes | None:
    """The revert data a failed call carries, whichever provider raised it."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ContractCustomError) and isinstance(seen.data, str):
            try:
                return bytes.fromhex(seen.data.removeprefix("0x"))
            except ValueError:
                return None
        if isinstance(seen, ContractLogicError):
            return b""
        if seen.args and isinstance(seen.args[0], bytes):
            return seen.args[0]
        seen = seen.__cause__ or seen.__context__
    return None


def describe_revert(errors: dict[bytes, tuple[str, list[str], list[str]]], raw: bytes) -> str:
    """``TimelockNotInFuture(timelock=5, blockTimestamp=9)`` from a custom error's revert data."""
    known = errors.get(raw[:4])
    if known is None:
        return f"the contract refused (revert data 0x{raw.hex()})"
    name, names, types = known
    values = abi_decode(types, raw[4:])
    arguments = ", ".join(f"{key}={_show(value)}" for key, value in zip(names, values, strict=True))
    return f"the contract refused: {name}({arguments})"


def _show(value: object) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def _error_selectors(abi: list[dict[str, Any]]) -> dict[bytes, tuple[str, list[str], list[str]]]:
    selectors: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for entry in abi:
        if entry.get("type") != "error":
            continue
        types = [str(item["type"]) for item in entry["inputs"]]
        names = [str(item["name"]) for item in entry["inputs"]]
        signature = f"{entry['name']}({','.join(types)})"
        selectors[keccak(text=signature)[:4]] = (str(entry["name"]), names, types)
    return selectors


def _base_params(web3: Web3, account: LocalAccount) -> TxParams:
    return {
        "from": account.address,
        "nonce": web3.eth.get_transaction_count(account.address, "pending"),
        "chainId": web3.eth.chain_id,
    }


def _send(web3: Web3, account: LocalAccount, transaction: TxParams) -> TxReceipt:
    signed = account.sign_transaction(cast(dict[str, Any], transaction))
    tx_hash = HexBytes(keccak(signed.raw_transaction))
    try:
        web3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = web3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    except TimeExhausted as error:
        raise EthereumError(
            f"tx {tx_hash.hex()} was not mined within {RECEIPT_TIMEOUT_S} s"
        ) from error
    except Web3Exception as error:
        raise EthereumError(f"the Ethereum node refused the tx: {error}") from error
    if receipt["status"] != 1:
        raise EthereumError(f"tx 0x{bytes(receipt['transactionHash']).hex()} reverted")
    return receipt
