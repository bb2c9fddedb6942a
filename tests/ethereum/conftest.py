"""A fresh in-process EVM (eth-tester, py-evm) with the HTLC deployed, per test."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from bftx.ethereum import DevChain, EthereumHtlc, compute_hashlock


@dataclass
class Deployed:
    chain: DevChain
    htlc: EthereumHtlc
    sender: LocalAccount
    receiver: LocalAccount
    stranger: LocalAccount
    secret: bytes
    hashlock: bytes


@pytest.fixture
def deployed() -> Deployed:
    chain = DevChain()
    sender, receiver, stranger = (chain.new_account(ether) for ether in (10, 1, 1))
    htlc = EthereumHtlc.deploy(chain.web3, sender)
    secret = os.urandom(32)
    return Deployed(chain, htlc, sender, receiver, stranger, secret, compute_hashlock(secret))
