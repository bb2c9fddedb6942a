"""HTLCs, deals and state proofs through the SDK against a live one-validator cluster.

Includes the acceptance check of issue 10: a proof fetched from a running
testnet verifies against the genesis file alone, and fails after any change.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from bftx import crypto, limits
from bftx.chain import Genesis
from bftx.client import (
    AsyncClient,
    Client,
    InvalidOrder,
    OrderRejected,
    ProofInvalid,
    verify_bundle,
)
from bftx.exchange.state import account_key, contract_key
from tests.api.support import LiveCluster, wait_for

SECRET = bytes(range(100, 132))
HASHLOCK = crypto.sha256(SECRET)


def genesis_of(cluster: LiveCluster) -> Genesis:
    return Genesis.load(cluster.testnet.nodes[0].genesis_file)


def later_ms(minutes: int = 10) -> int:
    return int(time.time() * 1000) + minutes * 60_000


def test_htlc_lock_then_claim_by_anyone_pays_the_receiver(cluster: LiveCluster) -> None:
    alice, bob, carol = cluster.fresh_traders(3)
    with (
        Client(cluster.api_url(), key=alice) as sender,
        Client(cluster.api_url(), key=carol) as stranger,
    ):
        before = Client(cluster.api_url(), key=bob).fetch_balance()["BTC"]["free"]
        locked = sender.htlc_lock("BTC", "0.25", bob.address.hex(), HASHLOCK, later_ms())
        assert locked["status"] == "committed"
        htlc = sender.fetch_htlc(locked["id"])
        assert (htlc["status"], htlc["amount"], htlc["receiver"]) == (
            "open",
            "0.25000000",
            bob.address.hex(),
        )
        with pytest.raises(OrderRejected) as wrong:
            stranger.htlc_claim(locked["id"], bytes(32))
        assert wrong.value.code == "wrong_preimage"
        claimed = stranger.htlc_claim(locked["id"], SECRET.hex())
        assert claimed["info"]["events"][0]["preimage"] == SECRET.hex()
        assert sender.fetch_htlc(locked["id"])["preimage"] == SECRET.hex()
        after = Client(cluster.api_url(), key=bob).fetch_balance()["BTC"]["free"]
        assert float(after) - float(before) == pytest.approx(0.25)


def test_deal_settles_when_both_legs_are_funded(cluster: LiveCluster) -> None:
    alice, bob = cluster.fresh_traders(2)
    with Client(cluster.api_url(), key=alice) as a, Client(cluster.api_url(), key=bob) as b:
        deal = a.deal_propose(bob.address.hex(), "BTC", "0.1", "USD", "4000", later_ms())
        assert b.deal_fund(deal["id"])["status"] == "committed"
        assert a.fetch_deal(deal["id"])["funded_b"] is True
        a.deal_fund(deal["id"])
        assert a.fetch_deal(deal["id"])["status"] == "settled"


def test_async_client_locks_and_refunds_are_refused_before_expiry(cluster: LiveCluster) -> None:
    alice, bob = cluster.fresh_traders(2)

    async def scenario() -> str:
        async with AsyncClient(cluster.api_url(), key=alice) as sender:
            locked = await sender.htlc_lock("USD", "10", bob.address, HASHLOCK, later_ms())
            try:
                await sender.htlc_refund(locked["id"])
            except OrderRejected as error:
                return error.code
            return "ok"

    assert asyncio.run(scenario()) == "contract_not_expired"


def fetch_certified_proof(cluster: LiveCluster, key: str) -> dict[str, object]:
    with Client(cluster.api_url()) as public:

        def certified() -> dict[str, object] | None:
            try:
                return public.fetch_proof(key)
            except Exception:
                return None

        return wait_for(certified, 10.0, "a certified proof")


def test_a_proof_from_the_testnet_verifies_from_the_genesis_alone(
    cluster: LiveCluster, tmp_path: Path
) -> None:
    (alice,) = cluster.fresh_traders(1)
    bundle = fetch_certified_proof(cluster, f"account:{alice.address.hex()}")
    assert bundle["present"] is True
    verified = verify_bundle(genesis_of(cluster), bundle)
    assert verified.key == account_key(alice.address)
    assert verified.certified_height == verified.height + limits.pipeline_depth_blocks
    absent = fetch_certified_proof(cluster, f"htlc:{'ab' * 32}")
    assert absent["present"] is False
    assert verify_bundle(genesis_of(cluster), absent).value is None
    assert bytes.fromhex(str(absent["key_hex"])) == contract_key(bytes.fromhex("ab" * 32))
    # the same bundle checks from files with the CLI's verifier (tests/cli covers the command)
    (tmp_path / "proof.json").write_text(json.dumps(bundle))


def test_flipping_any_byte_of_a_live_proof_header_or_certificate_fails(
    cluster: LiveCluster,
) -> None:
    (alice,) = cluster.fresh_traders(1)
    bundle = fetch_certified_proof(cluster, f"account:{alice.address.hex()}")
    genesis = genesis_of(cluster)
    for field in ("proof", "header", "certificate"):
        data = bytes.fromhex(str(bundle[field]))
        for index in range(len(data)):
            changed = bytearray(data)
            changed[index] ^= 0x01
            with pytest.raises(ProofInvalid):
                verify_bundle(genesis, {**bundle, field: changed.hex()})


def test_a_proof_claiming_absence_of_a_present_key_fails(cluster: LiveCluster) -> None:
    (alice,) = cluster.fresh_traders(1)
    bundle = fetch_certified_proof(cluster, f"account:{alice.address.hex()}")
    with pytest.raises(ProofInvalid):
        verify_bundle(genesis_of(cluster), {**bundle, "present": False, "value": None})


def test_verify_proof_checks_every_readable_field_of_a_live_bundle(
    cluster: LiveCluster, tmp_path: Path
) -> None:
    """A bundle's key, key_hex, height, present, value and certified_height are displayed
    to whoever verifies it: each must say what was proven, or the bundle is refused."""
    (alice,) = cluster.fresh_traders(1)
    bundle = fetch_certified_proof(cluster, f"account:{alice.address.hex()}")
    genesis = genesis_of(cluster)
    (tmp_path / "genesis.json").write_text(cluster.testnet.nodes[0].genesis_file.read_text())
    verified = Client.verify_proof(bundle, tmp_path / "genesis.json")
    assert verified.key == account_key(alice.address)
    assert verified.key_text == f"account:{alice.address.hex()}"
    certified = bundle["certified_height"]
    assert isinstance(certified, int)
    forged: list[tuple[dict[str, object], str]] = [
        ({**bundle, "key": "account:" + "1" * 40}, "key"),
        ({**bundle, "key": f"htlc:{'ab' * 32}"}, "key"),
        ({**bundle, "key": "nonsense"}, "key does not parse"),
        ({**bundle, "key": None}, "key is not text"),
        ({**bundle, "key_hex": account_key(bytes(20)).hex()}, "key_hex"),
        ({**bundle, "certified_height": certified + 1}, "certified_height"),
        ({**bundle, "certified_height": str(certified)}, "certified_height"),
        ({**bundle, "height": int(str(bundle["height"])) + 1}, "height"),
        ({**bundle, "present": 1}, "present"),
        ({**bundle, "value": "00"}, "value"),
        ({k: v for k, v in bundle.items() if k != "key_hex"}, "no key_hex"),
        ({k: v for k, v in bundle.items() if k != "certified_height"}, "no certified_height"),
        ({k: v for k, v in bundle.items() if k != "key"}, "no key"),
        ({**bundle, "owner": "bob"}, "cannot check: owner"),
    ]
    for changed, reason in forged:
        with pytest.raises(ProofInvalid, match=reason):
            Client.verify_proof(changed, genesis)
    bare = {name: bundle[name] for name in ("proof", "header", "certificate")}
    assert verify_bundle(genesis, bare).key_text == f"raw:{account_key(alice.address).hex()}"


def test_contract_arguments_are_checked_before_signing(cluster: LiveCluster) -> None:
    """Amounts, expiries, ids and preimages out of type or range are an InvalidOrder, never a
    raw Python error nor a tx the node refuses as malformed."""
    alice, bob = cluster.fresh_traders(2)
    receiver = bob.address.hex()
    with Client(cluster.api_url(), key=alice) as sender:
        attempts = [
            (lambda: sender.htlc_lock("BTC", "1e30", receiver, HASHLOCK, later_ms()), "range"),
            (lambda: sender.htlc_lock("BTC", True, receiver, HASHLOCK, later_ms()), "number"),
            (lambda: sender.htlc_lock("BTC", "NaN", receiver, HASHLOCK, later_ms()), "positive"),
            (lambda: sender.htlc_lock("BTC", "0.1", receiver, HASHLOCK, 2**70), "expiry_ms"),
            (lambda: sender.htlc_lock("BTC", "0.1", receiver, HASHLOCK, -1), "expiry_ms"),
            (lambda: sender.htlc_lock("BTC", "0.1", receiver, HASHLOCK, "soon"), "expiry_ms"),
            (lambda: sender.htlc_lock(None, "0.1", receiver, HASHLOCK, later_ms()), "asset"),
            (lambda: sender.htlc_lock("BTC", "0.1", 5, HASHLOCK, later_ms()), "receiver"),
            (lambda: sender.htlc_lock("BTC", "0.1", receiver, None, later_ms()), "hashlock"),
            (lambda: sender.htlc_claim(bytes(32), "zz"), "preimage is not hex"),
            (lambda: sender.htlc_claim(bytes(32), bytes(65)), "at most 64"),
            (lambda: sender.htlc_claim(bytes(32), 7), "preimage must be bytes"),
            (lambda: sender.htlc_refund(12), "id must be bytes"),
            (lambda: sender.deal_fund("zz"), "id is not hex"),
            (
                lambda: sender.deal_propose(receiver, "BTC", "0.1", "USD", "1e300", later_ms()),
                "range",
            ),
            (
                lambda: sender.deal_propose(receiver, "BTC", "0.1", "USD", "40", 2**64),
                "deadline_ms",
            ),
            (lambda: sender.htlc_lock("BTC", "0.1", receiver, HASHLOCK, later_ms(), []), "params"),
        ]
        for attempt, says in attempts:
            with pytest.raises(InvalidOrder, match=says):
                attempt()
    assert cluster.nonce(alice) == 0
