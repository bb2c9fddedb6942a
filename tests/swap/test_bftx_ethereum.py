"""The atomic swap between a real bftx network and a real EVM.

bftx: a live one-validator cluster in this process (tests/api/support.py), reached
through the SDK. Ethereum: eth-tester's py-evm chain, whose clock follows the wall
clock here (an empty block per poll), as a real chain's would. The initiator gives
BTC on bftx; the responder gives ETH on Ethereum. Timelocks are seconds long, so
the failure paths wait for real expiries (a few seconds each).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from bftx.client import Client
from bftx.crypto import KeyPair
from bftx.ethereum import WEI_PER_ETHER, DevChain, EthereumHtlc
from bftx.swap import ChainTiming, Phase, SwapDriver, SwapTiming, load_state
from bftx.swap.legs import BftxLeg, EthereumLeg, LegError, LockStatus
from tests.api.support import LiveCluster

TIMING = SwapTiming(
    initiator_chain=ChainTiming("bftx", 1_000),
    responder_chain=ChainTiming("ethereum", 0),
    clock_drift_ms=500,
    reaction_ms=500,
)  # margin 2.5 s, responder window 1.5 s, reveal window 1 s
WINDOW_MS = 12_000  # room for slow steps on a busy machine
BTC_SATS = 50_000_000  # 0.5 BTC
ETH_WEI = 2 * WEI_PER_ETHER
POLL_S = 0.2
RUN_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("cluster") / "testnet")
    try:
        live.start()
        yield live
    finally:
        live.close()


@dataclass
class Swap:
    cluster: LiveCluster
    chain: DevChain
    htlc: EthereumHtlc
    alice_bftx: KeyPair
    alice_eth: LocalAccount
    bob_bftx: KeyPair
    bob_eth: LocalAccount
    reader: BftxLeg
    opened: list[BftxLeg]

    def legs(self, who: str) -> tuple[BftxLeg, EthereumLeg]:
        key = self.alice_bftx if who == "alice" else self.bob_bftx
        bftx_leg = BftxLeg(Client(self.cluster.api_url(), key=key), "BTC")
        self.opened.append(bftx_leg)
        account = self.alice_eth if who == "alice" else self.bob_eth
        return bftx_leg, EthereumLeg(self.htlc, account, finality_ms=0)

    def initiator(self, path: Path | None = None) -> SwapDriver:
        bftx_leg, eth_leg = self.legs("alice")
        return SwapDriver.initiate(
            own_leg=bftx_leg,
            other_leg=eth_leg,
            timing=TIMING,
            amount=BTC_SATS,
            counterparty_receiver=self.bob_bftx.address.hex(),
            counterparty_sender=self.bob_eth.address,
            counterparty_amount=ETH_WEI,
            responder_window_ms=WINDOW_MS,
            path=path,
        )

    def responder(self, initiator: SwapDriver, path: Path | None = None) -> SwapDriver:
        bftx_leg, eth_leg = self.legs("bob")
        return SwapDriver.respond(
            initiator.state.terms, own_leg=eth_leg, other_leg=bftx_leg, timing=TIMING, path=path
        )

    def run(self, driver: SwapDriver) -> Phase:
        return driver.run(
            poll_s=POLL_S, timeout_s=RUN_TIMEOUT_S, on_poll=self.chain.follow_wall_clock
        )

    def btc(self, key: KeyPair) -> int:
        return self.reader.balance(key.address.hex())


@pytest.fixture
def swap(cluster: LiveCluster) -> Iterator[Swap]:
    chain = DevChain()
    alice_eth, bob_eth = chain.new_account(1), chain.new_account(10)
    alice_bftx, bob_bftx = cluster.fresh_traders(2)
    htlc = EthereumHtlc.deploy(chain.web3, bob_eth)
    reader = BftxLeg(Client(cluster.api_url()), "BTC")
    swap = Swap(cluster, chain, htlc, alice_bftx, alice_eth, bob_bftx, bob_eth, reader, [reader])
    yield swap
    for leg in swap.opened:
        leg.close()


def test_swap_succeeds_btc_on_bftx_for_eth_on_ethereum(swap: Swap) -> None:
    alice_btc, bob_btc = swap.btc(swap.alice_bftx), swap.btc(swap.bob_bftx)
    alice_wei = swap.htlc.balance_wei(swap.alice_eth.address)
    alice = swap.initiator()
    assert alice.step() is Phase.LOCKED
    bob = swap.responder(alice)
    assert bob.step() is Phase.LOCKED
    assert alice.step() is Phase.CLAIMED  # reveals the secret on Ethereum
    assert swap.run(bob) is Phase.CLAIMED  # reads it from Ethereum, claims on bftx
    assert swap.btc(swap.bob_bftx) - bob_btc == BTC_SATS
    assert alice_btc - swap.btc(swap.alice_bftx) == BTC_SATS
    gained = swap.htlc.balance_wei(swap.alice_eth.address) - alice_wei
    assert ETH_WEI - WEI_PER_ETHER // 100 < gained < ETH_WEI  # less the gas of her claim
    lock = swap.reader.find_lock(alice.state.own_lock_id or "")
    assert lock is not None and lock.status is LockStatus.CLAIMED
    assert lock.preimage == alice.state.secret


def test_responder_never_locks_so_the_initiator_refunds_on_bftx(swap: Swap) -> None:
    before = swap.btc(swap.alice_bftx)
    alice = swap.initiator()
    assert alice.step() is Phase.LOCKED
    assert swap.btc(swap.alice_bftx) == before - BTC_SATS
    assert swap.run(alice) is Phase.REFUNDED  # after T_I, by bftx block time
    assert swap.btc(swap.alice_bftx) == before


def test_initiator_never_claims_so_both_refund(swap: Swap, tmp_path: Path) -> None:
    btc_before = swap.btc(swap.alice_bftx)
    alice_file = tmp_path / "alice.json"
    alice = swap.initiator(alice_file)
    alice.step()
    bob = swap.responder(alice)
    bob.step()
    bob_wei = swap.htlc.balance_wei(swap.bob_eth.address)
    assert swap.run(bob) is Phase.REFUNDED  # at T_R, nothing revealed
    assert swap.htlc.balance_wei(swap.bob_eth.address) - bob_wei > ETH_WEI - WEI_PER_ETHER // 100
    # Alice's watcher comes back only now: too late to reveal, so she refunds at T_I.
    bftx_leg, eth_leg = swap.legs("alice")
    resumed = SwapDriver.resume(
        load_state(alice_file), own_leg=bftx_leg, other_leg=eth_leg, timing=TIMING, path=alice_file
    )
    assert swap.run(resumed) is Phase.REFUNDED
    assert swap.btc(swap.alice_bftx) == btc_before
    assert swap.htlc.revealed_preimage(bytes.fromhex((bob.state.own_lock_id or "")[2:])) is None


def test_responder_watcher_restarted_from_its_file_claims_on_bftx(
    swap: Swap, tmp_path: Path
) -> None:
    bob_file = tmp_path / "bob.json"
    alice = swap.initiator()
    alice.step()
    bob = swap.responder(alice, bob_file)
    bob.step()
    del bob  # the responder's watcher stops; the initiator claims meanwhile
    assert alice.step() is Phase.CLAIMED
    bftx_leg, eth_leg = swap.legs("bob")
    resumed = SwapDriver.resume(
        load_state(bob_file), own_leg=eth_leg, other_leg=bftx_leg, timing=TIMING, path=bob_file
    )
    assert swap.run(resumed) is Phase.CLAIMED
    assert load_state(bob_file).secret == alice.state.secret


def test_initiator_restarted_after_locking_on_bftx_finds_its_lock(
    swap: Swap, tmp_path: Path
) -> None:
    """The lock went out but its id was never saved: the nonce scan finds it; no second lock."""
    path = tmp_path / "alice.json"
    alice = swap.initiator(path)
    terms = alice.state.terms
    alice.state.phase = Phase.LOCKING
    alice.save()
    sent = alice.own_leg.lock(
        terms.initiator_receiver, terms.hashlock, terms.initiator_expiry_ms, terms.initiator_amount
    )
    balance = swap.btc(swap.alice_bftx)
    bftx_leg, eth_leg = swap.legs("alice")
    resumed = SwapDriver.resume(
        load_state(path), own_leg=bftx_leg, other_leg=eth_leg, timing=TIMING
    )
    assert resumed.step() is Phase.LOCKED
    assert resumed.state.own_lock_id == sent
    assert swap.btc(swap.alice_bftx) == balance


def test_swap_the_other_way_eth_on_ethereum_for_btc_on_bftx(swap: Swap) -> None:
    """Bob initiates from Ethereum; Alice responds on bftx. Bob's watcher finds Alice's bftx
    lock by her recent nonces (nobody tells him its id)."""
    timing = SwapTiming(
        initiator_chain=ChainTiming("ethereum", 0),
        responder_chain=ChainTiming("bftx", 1_000),
        clock_drift_ms=500,
        reaction_ms=500,
    )
    bob_bftx, bob_eth = swap.legs("bob")
    alice_bftx, alice_eth = swap.legs("alice")
    bob_btc = swap.btc(swap.bob_bftx)
    bob = SwapDriver.initiate(
        own_leg=bob_eth,
        other_leg=bob_bftx,
        timing=timing,
        amount=ETH_WEI,
        counterparty_receiver=swap.alice_eth.address,
        counterparty_sender=swap.alice_bftx.address.hex(),
        counterparty_amount=BTC_SATS,
        responder_window_ms=WINDOW_MS,
    )
    swap.chain.follow_wall_clock()
    assert bob.step() is Phase.LOCKED
    alice = SwapDriver.respond(
        bob.state.terms, own_leg=alice_bftx, other_leg=alice_eth, timing=timing
    )
    assert alice.step() is Phase.LOCKED
    assert swap.run(bob) is Phase.CLAIMED
    assert bob.state.counterparty_lock_id == alice.state.own_lock_id
    assert swap.run(alice) is Phase.CLAIMED
    assert swap.btc(swap.bob_bftx) - bob_btc == BTC_SATS


@pytest.fixture(scope="module")
def permissioned_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCluster]:
    live = LiveCluster(tmp_path_factory.mktemp("permissioned") / "testnet", permissioned_reads=True)
    try:
        live.start()
        yield live
    finally:
        live.close()


def test_on_permissioned_reads_the_initiator_is_told_the_responders_lock_id(
    permissioned_cluster: LiveCluster,
) -> None:
    """Where reads are permissioned Bob cannot read Alice's nonces to find her bftx lock: his
    watcher says so and how to go on, and once told her lock id (which he, its receiver, may
    read) the swap completes."""
    timing = SwapTiming(
        initiator_chain=ChainTiming("ethereum", 0),
        responder_chain=ChainTiming("bftx", 1_000),
        clock_drift_ms=500,
        reaction_ms=500,
    )
    chain = DevChain()
    alice_eth, bob_eth = chain.new_account(1), chain.new_account(10)
    alice_key, bob_key = permissioned_cluster.fresh_traders(2)
    htlc = EthereumHtlc.deploy(chain.web3, bob_eth)
    url = permissioned_cluster.api_url()
    alice_bftx = BftxLeg(Client(url, key=alice_key), "BTC")
    bob_bftx = BftxLeg(Client(url, key=bob_key), "BTC")
    try:
        bob_btc = bob_bftx.balance(bob_key.address.hex())
        bob = SwapDriver.initiate(
            own_leg=EthereumLeg(htlc, bob_eth, finality_ms=0),
            other_leg=bob_bftx,
            timing=timing,
            amount=ETH_WEI,
            counterparty_receiver=alice_eth.address,
            counterparty_sender=alice_key.address.hex(),
            counterparty_amount=BTC_SATS,
            responder_window_ms=WINDOW_MS,
        )
        chain.follow_wall_clock()
        assert bob.step() is Phase.LOCKED
        alice = SwapDriver.respond(
            bob.state.terms,
            own_leg=alice_bftx,
            other_leg=EthereumLeg(htlc, alice_eth, finality_ms=0),
            timing=timing,
        )
        assert alice.step() is Phase.LOCKED
        with pytest.raises(LegError, match="--counterparty-lock"):
            bob.step()

        assert alice.state.own_lock_id is not None
        bob.accept_counterparty_lock(alice.state.own_lock_id)
        for driver in (bob, alice):
            finished = driver.run(
                poll_s=POLL_S, timeout_s=RUN_TIMEOUT_S, on_poll=chain.follow_wall_clock
            )
            assert finished is Phase.CLAIMED
        assert bob_bftx.balance(bob_key.address.hex()) - bob_btc == BTC_SATS
    finally:
        alice_bftx.close()
        bob_bftx.close()
