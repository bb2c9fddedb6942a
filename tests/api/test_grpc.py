"""gRPC round trips for every RPC against a live in-process cluster (tests/api/conftest.py)."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Queue
from typing import Any

import grpc
import pytest

from bftx import crypto
from bftx.api.grpc import bftx_pb2 as pb
from bftx.api.grpc import bftx_pb2_grpc
from bftx.api.grpc.generate import GENERATED, PACKAGE_DIRECTORY, generate
from bftx.exchange import Side
from tests.api.support import LiveCluster

TIMEOUT_S = 5.0


@pytest.fixture
def stub(cluster: LiveCluster) -> Iterator[Any]:
    with grpc.insecure_channel(cluster.grpc_target()) as channel:
        yield bftx_pb2_grpc.BftxStub(channel)


class Reader:
    """Reads a server stream on a thread, so a test can wait for a message with a timeout."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._messages: Queue[Any] = Queue()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            for message in self._stream:
                self._messages.put(message)
        except grpc.RpcError as error:
            self._messages.put(error)

    def next(self, timeout_s: float = TIMEOUT_S) -> Any:
        message = self._messages.get(timeout=timeout_s)
        if isinstance(message, grpc.RpcError):
            raise message
        return message

    def close(self) -> None:
        self._stream.cancel()


def test_committed_generated_modules_match_the_proto() -> None:
    pytest.importorskip("grpc_tools")
    with tempfile.TemporaryDirectory() as temporary:
        regenerated = generate(Path(temporary))
        for path in regenerated:
            committed = PACKAGE_DIRECTORY / path.name
            assert path.read_bytes() == committed.read_bytes(), (
                f"{committed.name} is stale: run python -m bftx.api.grpc.generate"
            )
    assert sorted(p.name for p in regenerated) == sorted(GENERATED)


def test_status_names_the_node_and_its_validators(cluster: LiveCluster, stub: Any) -> None:
    status = stub.GetStatus(pb.GetStatusRequest(), timeout=TIMEOUT_S)
    assert (status.node, status.mode, status.chain_id) == ("node0", "validator", "bftx-testnet")
    assert list(status.validators) == ["node0"]
    assert status.HasField("view") and status.primary == 0
    assert status.halted == ""


def test_tx_status_goes_from_unknown_to_committed(cluster: LiveCluster, stub: Any) -> None:
    trader = cluster.fresh_traders(1)[0]
    tx = cluster.order_tx(trader, cluster.nonce(trader), Side.BUY, 1_000_000, 1)
    digest = crypto.sha256(tx)
    unknown = stub.GetTx(pb.GetTxRequest(tx_hash=digest), timeout=TIMEOUT_S)
    assert unknown.state == pb.TxStatus.UNKNOWN
    cluster.wait_committed(cluster.submit(tx))
    committed = stub.GetTx(pb.GetTxRequest(tx_hash=digest), timeout=TIMEOUT_S)
    assert committed.state == pb.TxStatus.COMMITTED
    assert (committed.code, committed.position) == ("ok", 0)
    assert committed.height >= 1


def test_book_account_and_block_queries_agree_with_rest(cluster: LiveCluster, stub: Any) -> None:
    trader = cluster.fresh_traders(1)[0]
    committed = cluster.place(trader, Side.SELL, 9_000_000, 25)  # ask 90,000 x 0.0025

    book = stub.GetBook(pb.GetBookRequest(market="BTC-USD", depth=10), timeout=TIMEOUT_S)
    assert book.market == "BTC-USD" and book.sequence >= committed["height"]
    assert pb.Level(price="90000", amount="0.00250000") in book.asks
    rest_book = cluster.http.get(f"{cluster.api_url()}/v1/markets/BTC-USD/book?depth=10").json()
    assert [(level.price, level.amount) for level in book.asks] == [
        (level["price"], level["amount"]) for level in rest_book["asks"]
    ]

    account = stub.GetAccount(pb.GetAccountRequest(address=trader.address), timeout=TIMEOUT_S)
    assert account.registered and account.nonce == 1
    rest = cluster.http.get(f"{cluster.api_url()}/v1/accounts/{trader.address.hex()}").json()
    assert [(b.asset, b.available, b.locked) for b in account.balances] == [
        (b["asset"], b["available"], b["locked"]) for b in rest["balances"]
    ]

    block = stub.GetBlock(pb.GetBlockRequest(height=committed["height"]), timeout=TIMEOUT_S)
    rest_block = cluster.http.get(f"{cluster.api_url()}/v1/blocks/{committed['height']}").json()
    assert block.hash.hex() == rest_block["hash"]
    assert bytes.fromhex(committed["tx_hash"]) in block.tx_hashes
    assert list(block.signers) == ["node0"] and block.accepted_count == block.tx_count
    latest = stub.GetBlock(pb.GetBlockRequest(), timeout=TIMEOUT_S)
    assert latest.height >= committed["height"]


@pytest.mark.parametrize(
    ("call", "request_message", "status", "code"),
    [
        (
            "GetBook",
            pb.GetBookRequest(market="DOGE-USD"),
            grpc.StatusCode.NOT_FOUND,
            "unknown_market",
        ),
        (
            "GetBook",
            pb.GetBookRequest(market="BTC-USD", depth=10**6),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        ("GetBlock", pb.GetBlockRequest(height=10**9), grpc.StatusCode.NOT_FOUND, "unknown_block"),
        (
            "GetTx",
            pb.GetTxRequest(tx_hash=b"short"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetAccount",
            pb.GetAccountRequest(address=b"\x01"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetLightBlock",
            pb.GetLightBlockRequest(height=2**63),
            grpc.StatusCode.NOT_FOUND,
            "unknown_block",
        ),
        (
            "GetLightBlock",
            pb.GetLightBlockRequest(height=2**64 - 1),
            grpc.StatusCode.NOT_FOUND,
            "unknown_block",
        ),
        (
            "GetProof",
            pb.GetProofRequest(key="ibc-commitment:client-0:\u00b2"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetProof",
            pb.GetProofRequest(key="ibc-receipt:client-0:client-1:\u00b3"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetProof",
            pb.GetProofRequest(key="ibc-consensus:client-0:" + "9" * 19),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetProof",
            pb.GetProofRequest(key="nonsense"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetProof",
            pb.GetProofRequest(key="raw:" + "ab" * 10_000),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetHtlc",
            pb.GetContractRequest(id=b""),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetHtlc",
            pb.GetContractRequest(id=bytes(31)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetDeal",
            pb.GetContractRequest(id=bytes(33)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetIbcClient",
            pb.GetIbcClientRequest(client_id="zz"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "GetIbcClient",
            pb.GetIbcClientRequest(client_id="client-7"),
            grpc.StatusCode.NOT_FOUND,
            "unknown_client",
        ),
        (
            "ListIbcPackets",
            pb.ListIbcPacketsRequest(client_id="zz"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
        (
            "ListIbcPackets",
            pb.ListIbcPacketsRequest(kind="receipt", source_client="client-01"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "invalid_request",
        ),
    ],
)
def test_bad_queries_fail_with_a_status_and_a_stable_code(
    stub: Any, call: str, request_message: Any, status: grpc.StatusCode, code: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        getattr(stub, call)(request_message, timeout=TIMEOUT_S)
    assert raised.value.code() == status
    assert raised.value.details().startswith(f"{code}: ")


def test_bulk_submission_summarises_every_admission(cluster: LiveCluster, stub: Any) -> None:
    traders = cluster.fresh_traders(3)
    txs = [
        cluster.order_tx(key, nonce, Side.BUY, 1_500_000, 1) for key in traders for nonce in (0, 1)
    ]
    batches = [
        pb.TxBatch(txs=[*txs[:3], txs[0]]),  # a duplicate within one batch
        pb.TxBatch(txs=[b"\x00junk", *txs[3:]]),
        pb.TxBatch(),
    ]
    summary = stub.SubmitTxs(iter(batches), timeout=TIMEOUT_S)
    assert (summary.received, summary.accepted) == (8, 6)
    assert dict(summary.codes) == {"ok": 6, "malformed": 1, "duplicate_tx": 1}
    rejections = [(r.index, r.code) for r in summary.rejections]
    assert rejections == [(3, "duplicate_tx"), (4, "malformed")]
    assert summary.rejections[0].tx_hash == crypto.sha256(txs[0])
    assert not summary.rejections_truncated
    for tx in txs:
        cluster.wait_committed(crypto.sha256(tx).hex())


def test_an_oversized_batch_is_refused(stub: Any) -> None:
    batch = pb.TxBatch(txs=[b"x"] * 8_193)
    with pytest.raises(grpc.RpcError) as raised:
        stub.SubmitTxs(iter([batch]), timeout=TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_block_stream_follows_the_chain_height_by_height(cluster: LiveCluster, stub: Any) -> None:
    reader = Reader(stub.StreamBlocks(pb.StreamBlocksRequest()))
    try:
        trader = cluster.fresh_traders(1)[0]
        committed = cluster.place(trader, Side.BUY, 1_100_000, 1)
        blocks = [reader.next()]
        while blocks[-1].height < committed["height"]:
            blocks.append(reader.next())
        heights = [block.height for block in blocks]
        assert heights == list(range(heights[0], committed["height"] + 1))
        assert bytes.fromhex(committed["tx_hash"]) in blocks[-1].tx_hashes
        assert list(blocks[-1].signers) == ["node0"]
    finally:
        reader.close()


def test_trade_and_book_streams_after_a_cross(cluster: LiveCluster, stub: Any) -> None:
    trades = Reader(stub.StreamTrades(pb.StreamTradesRequest(market="btc-usd")))
    book = Reader(stub.StreamBook(pb.StreamBookRequest(market="BTC-USD")))
    try:
        snapshot = book.next()
        assert snapshot.kind == pb.BookUpdate.SNAPSHOT
        maker, taker = cluster.fresh_traders(2)
        placed = cluster.place(maker, Side.SELL, 4_700_000, 30)  # ask 47,000 x 0.003
        crossed = cluster.place(taker, Side.BUY, 4_700_000, 10)  # leaves 0.002
        first, second = book.next(), book.next()
        assert (first.kind, first.previous_sequence) == (pb.BookUpdate.DIFF, snapshot.sequence)
        assert (first.sequence, second.previous_sequence) == (placed["height"], first.sequence)
        assert second.sequence == crossed["height"]
        assert list(first.asks) == [pb.Level(price="47000", amount="0.00300000")]
        assert list(second.asks) == [pb.Level(price="47000", amount="0.00200000")]
        batch = trades.next()
        assert (batch.market, batch.height) == ("BTC-USD", crossed["height"])
        [trade] = batch.trades
        assert (trade.price, trade.amount, trade.taker_side) == ("47000", "0.00100000", "buy")
        assert trade.taker_order_id == f"{taker.address.hex()}:0"
    finally:
        trades.close()
        book.close()


def test_a_stream_of_an_unknown_market_is_not_found(stub: Any) -> None:
    stream = stub.StreamBook(pb.StreamBookRequest(market="NOPE-USD"), timeout=TIMEOUT_S)
    with pytest.raises(grpc.RpcError) as raised:
        next(iter(stream))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert raised.value.details().startswith("unknown_market: ")


def test_ibc_clients_and_packets_are_served_over_grpc(cluster: LiveCluster, stub: Any) -> None:
    from bftx.client import Client

    other = [crypto.KeyPair.from_seed(bytes([n]) * 32) for n in (1, 2, 3, 4)]
    genesis = {
        "chain_id": "other-chain",
        "validators": [
            {"name": f"v{n}", "public_key": k.public_key.hex()} for n, k in enumerate(other)
        ],
        "exchange": {"assets": [], "markets": [], "accounts": []},
    }
    (trader,) = cluster.fresh_traders(1)
    with Client(cluster.api_url(), key=trader) as client:
        created = client.ibc_create_client(genesis, 3_600_000)
    listed = stub.ListIbcClients(pb.ListIbcClientsRequest(), timeout=TIMEOUT_S).clients
    assert created["id"] in [found.id for found in listed]
    found = stub.GetIbcClient(pb.GetIbcClientRequest(client_id=created["id"]), timeout=TIMEOUT_S)
    assert (found.chain_id, found.status, list(found.validators)) == (
        "other-chain",
        "active",
        [k.public_key for k in other],
    )
    with pytest.raises(grpc.RpcError) as unknown:
        stub.GetIbcClient(pb.GetIbcClientRequest(client_id="client-999"), timeout=TIMEOUT_S)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    request = pb.ListIbcPacketsRequest(client_id=created["id"], kind="ack")
    assert list(stub.ListIbcPackets(request, timeout=TIMEOUT_S).packets) == []
    with pytest.raises(grpc.RpcError) as wrong:
        stub.ListIbcPackets(pb.ListIbcPacketsRequest(kind="sent"), timeout=TIMEOUT_S)
    assert wrong.value.code() == grpc.StatusCode.INVALID_ARGUMENT
