"""HashedTimelock.sol on a real EVM (eth-tester's py-evm backend): every path and refusal."""

from __future__ import annotations

import pytest
from web3.types import TxParams, Wei

from bftx.ethereum import WEI_PER_ETHER, EthereumError, LockState, compute_lock_id
from tests.ethereum.conftest import Deployed

AMOUNT_WEI = 2 * WEI_PER_ETHER


def lock(deployed: Deployed, *, seconds: int = 600, amount_wei: int = AMOUNT_WEI) -> bytes:
    timelock = deployed.chain.timestamp_s() + seconds
    return deployed.htlc.lock(
        deployed.sender, deployed.receiver.address, deployed.hashlock, timelock, amount_wei
    )


def test_lock_holds_the_ether_under_the_deterministic_id(deployed: Deployed) -> None:
    before = deployed.htlc.balance_wei(deployed.htlc.address)
    timelock = deployed.chain.timestamp_s() + 600
    lock_id = deployed.htlc.lock(
        deployed.sender, deployed.receiver.address, deployed.hashlock, timelock, AMOUNT_WEI
    )
    on_chain_id = deployed.htlc.contract.functions.lockId(
        deployed.sender.address, deployed.receiver.address, AMOUNT_WEI, deployed.hashlock, timelock
    ).call()
    assert lock_id == bytes(on_chain_id)
    assert lock_id == compute_lock_id(
        deployed.sender.address, deployed.receiver.address, AMOUNT_WEI, deployed.hashlock, timelock
    )
    found = deployed.htlc.get_lock(lock_id)
    assert found is not None
    assert (found.sender, found.receiver) == (deployed.sender.address, deployed.receiver.address)
    assert (found.amount_wei, found.hashlock, found.timelock_s) == (
        AMOUNT_WEI,
        deployed.hashlock,
        timelock,
    )
    assert found.state is LockState.OPEN and found.preimage is None
    assert deployed.htlc.balance_wei(deployed.htlc.address) - before == AMOUNT_WEI


def test_withdraw_by_a_stranger_pays_the_receiver_and_reveals_the_preimage(
    deployed: Deployed,
) -> None:
    lock_id = lock(deployed)
    receiver_before = deployed.htlc.balance_wei(deployed.receiver.address)
    deployed.htlc.withdraw(deployed.stranger, lock_id, deployed.secret)
    assert deployed.htlc.balance_wei(deployed.receiver.address) - receiver_before == AMOUNT_WEI
    found = deployed.htlc.get_lock(lock_id)
    assert found is not None and found.state is LockState.WITHDRAWN
    assert found.preimage == deployed.secret
    assert deployed.htlc.revealed_preimage(lock_id) == deployed.secret


def test_revealed_preimage_is_none_while_the_lock_is_open(deployed: Deployed) -> None:
    lock_id = lock(deployed)
    assert deployed.htlc.revealed_preimage(lock_id) is None


def test_wrong_preimage_is_refused(deployed: Deployed) -> None:
    lock_id = lock(deployed)
    with pytest.raises(EthereumError, match="WrongPreimage"):
        deployed.htlc.withdraw(deployed.receiver, lock_id, bytes(32))


def test_withdraw_at_the_timelock_is_refused_and_refund_pays_the_sender(
    deployed: Deployed,
) -> None:
    lock_id = lock(deployed, seconds=60)
    deployed.chain.advance_time(60)
    with pytest.raises(EthereumError, match="Expired"):
        deployed.htlc.withdraw(deployed.receiver, lock_id, deployed.secret)
    sender_before = deployed.htlc.balance_wei(deployed.sender.address)
    deployed.htlc.refund(deployed.stranger, lock_id)
    assert deployed.htlc.balance_wei(deployed.sender.address) - sender_before == AMOUNT_WEI
    found = deployed.htlc.get_lock(lock_id)
    assert found is not None and found.state is LockState.REFUNDED and found.preimage is None


def test_refund_before_the_timelock_is_refused(deployed: Deployed) -> None:
    lock_id = lock(deployed, seconds=60)
    with pytest.raises(EthereumError, match="NotExpired"):
        deployed.htlc.refund(deployed.sender, lock_id)


def test_second_withdraw_and_refund_after_withdraw_are_refused(deployed: Deployed) -> None:
    lock_id = lock(deployed, seconds=60)
    deployed.htlc.withdraw(deployed.receiver, lock_id, deployed.secret)
    with pytest.raises(EthereumError, match=r"NotOpen\(.*state=2\)"):
        deployed.htlc.withdraw(deployed.receiver, lock_id, deployed.secret)
    deployed.chain.advance_time(120)
    with pytest.raises(EthereumError, match=r"NotOpen\(.*state=2\)"):
        deployed.htlc.refund(deployed.sender, lock_id)


def test_second_refund_is_refused(deployed: Deployed) -> None:
    lock_id = lock(deployed, seconds=60)
    deployed.chain.advance_time(60)
    deployed.htlc.refund(deployed.sender, lock_id)
    with pytest.raises(EthereumError, match=r"NotOpen\(.*state=3\)"):
        deployed.htlc.refund(deployed.sender, lock_id)


def test_unknown_lock_is_refused(deployed: Deployed) -> None:
    with pytest.raises(EthereumError, match="UnknownLock"):
        deployed.htlc.withdraw(deployed.receiver, b"\x01" * 32, deployed.secret)
    assert deployed.htlc.get_lock(b"\x01" * 32) is None


def test_same_terms_cannot_be_locked_twice(deployed: Deployed) -> None:
    timelock = deployed.chain.timestamp_s() + 600
    terms = (deployed.receiver.address, deployed.hashlock, timelock, AMOUNT_WEI)
    deployed.htlc.lock(deployed.sender, *terms)
    with pytest.raises(EthereumError, match="LockExists"):
        deployed.htlc.lock(deployed.sender, *terms)


def test_timelock_not_in_the_future_is_refused(deployed: Deployed) -> None:
    with pytest.raises(EthereumError, match="TimelockNotInFuture"):
        lock(deployed, seconds=0)


def test_zero_amount_and_zero_receiver_are_refused(deployed: Deployed) -> None:
    timelock = deployed.chain.timestamp_s() + 600
    call = deployed.htlc.contract.functions.lock(
        deployed.receiver.address, deployed.hashlock, timelock
    )
    params: TxParams = {"from": deployed.sender.address, "value": Wei(0)}
    with pytest.raises(EthereumError, match="ZeroAmount"):  # lock() refuses 0 before the EVM
        deployed.htlc._transact(deployed.sender, call, params)
    with pytest.raises(EthereumError, match="ZeroReceiver"):
        deployed.htlc.lock(
            deployed.sender, "0x" + "00" * 20, deployed.hashlock, timelock, AMOUNT_WEI
        )


def test_client_refuses_bad_arguments_before_sending(deployed: Deployed) -> None:
    with pytest.raises(ValueError, match="positive"):
        lock(deployed, amount_wei=0)
    with pytest.raises(ValueError, match="32 bytes"):
        deployed.htlc.withdraw(deployed.receiver, b"\x01" * 32, b"short")


def test_reads_wait_for_confirmations(deployed: Deployed) -> None:
    """With confirmations=2 a lock is invisible until two more blocks are on top of it."""
    from bftx.ethereum import EthereumHtlc

    careful = EthereumHtlc(deployed.chain.web3, deployed.htlc.address, confirmations=2)
    lock_id = lock(deployed)
    assert careful.get_lock(lock_id) is None
    deployed.chain.advance_time(1)
    deployed.chain.advance_time(1)
    assert careful.get_lock(lock_id) is not None
