"""The relayer's signer: consecutive nonces, holes filled, shed txs sent again."""

from __future__ import annotations

import asyncio
from typing import Any

from bftx import codec
from bftx.crypto import KeyPair
from bftx.exchange.transactions import IbcTimeout, IbcUpdateClient
from bftx.relayer import signer as signer_module
from bftx.relayer.signer import Signer

CHAIN = "bftx-b"


class Node:
    """Answers batch submissions like a node: by nonce, refusing what the test says."""

    def __init__(self, nonce: int = 7) -> None:
        self.nonce = nonce
        self.refuse: dict[int, str] = {}  # nonce -> code, once
        self.shed_after = 10**9  # admit at most this many txs per request
        self.admitted: list[tuple[int, Any]] = []  # (nonce, body kind) in admission order
        self.balance_reads = 0

    async def fetch_balance(self) -> dict[str, Any]:
        self.balance_reads += 1
        return {"info": {"nonce": self.nonce}}

    async def submit_batch(self, txs: list[bytes]) -> list[dict[str, Any]]:
        results = []
        for position, tx in enumerate(txs):
            _chain, _key, nonce, kind, _body, _signature = codec.decode(tx, len(tx))
            if position >= self.shed_after:
                results.append({"accepted": False, "code": "overloaded", "tx_hash": None})
            elif nonce in self.refuse:
                results.append({"accepted": False, "code": self.refuse.pop(nonce), "tx_hash": None})
            else:
                self.admitted.append((nonce, kind))
                results.append({"accepted": True, "code": "ok", "tx_hash": f"{nonce:064x}"})
        return results


def _signer(node: Node) -> Signer:
    return Signer(node, KeyPair.generate(), CHAIN)  # type: ignore[arg-type]


def _bodies(count: int) -> list[IbcTimeout]:
    return [IbcTimeout(bytes([index]), b"proof") for index in range(count)]


FILLER = IbcUpdateClient("client-0", b"header", b"certificate")


def test_batches_take_consecutive_nonces_from_the_chain() -> None:
    node = Node(nonce=7)
    signer = _signer(node)
    asyncio.run(signer.submit(_bodies(3), FILLER))
    asyncio.run(signer.submit(_bodies(2), FILLER))
    assert [nonce for nonce, _kind in node.admitted] == [7, 8, 9, 10, 11]
    assert node.balance_reads == 1


def test_a_tx_refused_in_the_middle_leaves_no_hole() -> None:
    node = Node(nonce=0)
    node.refuse[1] = "packet_already_received"
    signer = _signer(node)
    admissions = asyncio.run(signer.submit(_bodies(3), FILLER))
    assert [admission.code for admission in admissions] == ["ok", "packet_already_received", "ok"]
    nonces = sorted(nonce for nonce, _kind in node.admitted)
    assert nonces == [0, 1, 2]  # nonce 1 filled by the no-op update
    asyncio.run(signer.submit(_bodies(1), FILLER))
    assert max(nonce for nonce, _kind in node.admitted) == 3


def test_what_a_node_sheds_is_sent_again(monkeypatch: Any) -> None:
    monkeypatch.setattr(signer_module, "SHED_PAUSE_S", 0.0)
    node = Node(nonce=0)
    node.shed_after = 5
    signer = _signer(node)
    admissions = asyncio.run(signer.submit(_bodies(12), FILLER))
    assert all(admission.code == "ok" for admission in admissions)
    assert [nonce for nonce, _kind in node.admitted] == list(range(12))


def test_a_refused_nonce_makes_the_signer_ask_the_chain_again() -> None:
    node = Node(nonce=0)
    node.refuse[0] = "nonce_used"  # another process used this key
    signer = _signer(node)
    asyncio.run(signer.submit(_bodies(1), FILLER))
    node.nonce = 5
    asyncio.run(signer.submit(_bodies(1), FILLER))
    assert node.balance_reads == 2
    assert node.admitted[-1][0] == 5
