"""Connecting to an Ethereum chain: any JSON-RPC node, or eth-tester's in-process EVM.

`connect(url)` talks to a node over HTTP(S) JSON-RPC (anvil, geth, a provider).
`DevChain` is a real EVM (py-evm) inside this process, for tests and the demo:
it funds fresh accounts from eth-tester's prefunded ones and can move the
chain's clock forward, so timelocks expire in a test without waiting.
Keys are plain hex private keys (`load_key`, `save_key`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.exceptions import Web3Exception
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import Wei

from bftx.errors import ConfigError
from bftx.ethereum.htlc import EthereumError

WEI_PER_ETHER = 10**18
RPC_TIMEOUT_S = 10


def connect(url: str) -> Web3:
    """A Web3 session with the JSON-RPC node at ``url``; fails clearly if it does not answer."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--eth-rpc wants an http(s):// JSON-RPC URL, not {url!r}")
    web3 = Web3(HTTPProvider(url, request_kwargs={"timeout": RPC_TIMEOUT_S}))
    try:
        web3.eth.chain_id  # noqa: B018 - one round trip proves the node answers
    except (Web3Exception, OSError) as error:
        raise EthereumError(f"the Ethereum node at {url} does not answer: {error}") from error
    return web3


class DevChain:
    """An in-process Ethereum chain (eth-tester with the py-evm backend)."""

    def __init__(self) -> None:
        self.provider = EthereumTesterProvider()
        self.web3 = Web3(self.provider)
        tester = self.provider.ethereum_tester
        assert tester is not None, "EthereumTesterProvider() always makes its tester"
        self._tester = tester
        self._faucet = to_checksum_address(self._tester.get_accounts()[0])

    def new_account(self, ether: int = 0) -> LocalAccount:
        """A fresh key, funded with ``ether`` from the tester's prefunded account."""
        account: LocalAccount = Account.create()
        if ether:
            self.fund(account.address, ether * WEI_PER_ETHER)
        return account

    def fund(self, address: str, amount_wei: int) -> None:
        tx_hash = self.web3.eth.send_transaction(
            {"from": self._faucet, "to": to_checksum_address(address), "value": Wei(amount_wei)}
        )
        self.web3.eth.wait_for_transaction_receipt(tx_hash)

    def timestamp_s(self) -> int:
        return int(self.web3.eth.get_block("latest")["timestamp"])

    def follow_wall_clock(self) -> None:
        """Mine an empty block stamped with the current time if the chain's clock is behind
        it, as a real chain's steady blocks would: call it every poll in a demo or test that
        waits for a timelock in real time."""
        behind_s = int(time.time()) - self.timestamp_s()
        if behind_s >= 1:
            self.advance_time(behind_s)

    def advance_time(self, seconds: int) -> int:
        """Mine a block at least ``seconds`` after the latest one; returns its timestamp."""
        if seconds < 1:
            raise ValueError("advance the chain's clock by at least one second")
        height = int(self.web3.eth.block_number)
        target = self.timestamp_s() + seconds
        pending = int(self._tester.get_block_by_number("pending")["timestamp"])
        if target > pending:
            self._tester.time_travel(target)
        if int(self.web3.eth.block_number) == height:
            self._tester.mine_blocks(1)  # the pending block already had that timestamp
        while self.timestamp_s() < target:
            self._tester.mine_blocks(1)  # eth-tester may land a second short; each block adds one
        return self.timestamp_s()


def send_ether(web3: Web3, sender: LocalAccount, to: str, amount_wei: int) -> None:
    """Pay ``amount_wei`` from ``sender`` (signed here) and wait until it is mined."""
    transaction: dict[str, Any] = {
        "to": to_checksum_address(to),
        "value": amount_wei,
        "gas": 21_000,
        "nonce": web3.eth.get_transaction_count(sender.address, "pending"),
        "chainId": web3.eth.chain_id,
        "maxFeePerGas": 2 * web3.eth.gas_price + 1,
        "maxPriorityFeePerGas": 1,
    }
    signed = sender.sign_transaction(transaction)
    try:
        tx_hash = web3.eth.send_raw_transaction(signed.raw_transaction)
        web3.eth.wait_for_transaction_receipt(tx_hash)
    except (Web3Exception, OSError) as error:
        raise EthereumError(f"paying {amount_wei} wei to {to} failed: {error}") from error


def load_key(path: str | Path) -> LocalAccount:
    """An Ethereum account from a file holding its hex private key (``0x`` + 64 hex digits)."""
    try:
        text = Path(path).read_text().strip()
    except OSError as error:
        raise ConfigError(f"cannot read the Ethereum key file {path}: {error}") from error
    try:
        account: LocalAccount = Account.from_key(text)
    except (ValueError, TypeError) as error:
        raise ConfigError(
            f"{path} is not an Ethereum private key (0x followed by 64 hex digits)"
        ) from error
    return account


def save_key(account: LocalAccount, path: str | Path) -> None:
    """Write the account's private key, readable by the owner only."""
    target = Path(path)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write("0x" + bytes(account.key).hex() + "\n")
