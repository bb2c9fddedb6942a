"""Hostile input on every interface: limits before work, clear errors, no internal names.

Each probe is what a careless or hostile client can send from outside; each
test asserts the answer a client sees, and that the node did no work it was
not bound to (memory stays flat under a 64 MB body).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bftx import limits
from bftx.api.grpc import bftx_pb2 as pb
from bftx.api.grpc import bftx_pb2_grpc
from bftx.api.guard import json_depth_exceeds
from tests.api.support import LiveCluster

BODY_BYTES_HOSTILE = 64 * 1024 * 1024
RSS_GROWTH_BYTES_MAX = 5 * 1024 * 1024
CHUNK_BYTES = 64 * 1024


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def http_exchange(port: int, head: bytes, body_chunks: Iterator[bytes]) -> bytes:
    """Send a raw request, stop sending once the server answers or closes; the response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head)
        connection.settimeout(0.0)
        response = b""
        for chunk in body_chunks:
            with contextlib.suppress(BlockingIOError):
                response += connection.recv(65_536)
            if response:
                break
            try:
                connection.settimeout(10)
                connection.sendall(chunk)
                connection.settimeout(0.0)
            except (BrokenPipeError, ConnectionResetError):
                break
        connection.settimeout(10)
        try:
            while data := connection.recv(65_536):  # the refusal closes the connection
                response += data
        except ConnectionResetError:
            pass  # closed with our unread bytes in its buffer: the kernel resets
        return response


def status_and_problem(response: bytes) -> tuple[int, dict[str, Any]]:
    head, _, rest = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return status, json.loads(rest[:length])


def test_a_64_mb_body_is_refused_before_it_is_sent_and_memory_stays_flat(
    cluster: LiveCluster,
) -> None:
    port = cluster.api_ports[0]
    head = (
        b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {BODY_BYTES_HOSTILE}\r\n\r\n".encode()
    )
    before = resident_bytes()
    status, problem = status_and_problem(http_exchange(port, head, iter([b""])))
    grown = resident_bytes() - before
    assert status == 413
    assert problem["code"] == "request_too_large"
    assert str(limits.api_request_bytes_max) in problem["detail"]
    assert grown < RSS_GROWTH_BYTES_MAX, f"RSS grew by {grown} bytes"


def test_a_chunked_body_is_cut_off_at_the_bound(cluster: LiveCluster) -> None:
    port = cluster.api_ports[0]
    head = (
        b"POST /v1/txs/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"%x\r\n%s\r\n" % (CHUNK_BYTES, b" " * CHUNK_BYTES)
    before = resident_bytes()
    for _attempt in range(3):  # a reset can swallow the answer; the bound holds either way
        chunks = (piece for _ in range(limits.api_request_bytes_max // CHUNK_BYTES + 1))
        response = http_exchange(port, head, chunks)
        if response:
            break
    status, problem = status_and_problem(response)
    grown = resident_bytes() - before
    assert (status, problem["code"]) == (413, "request_too_large")
    assert grown < limits.api_request_bytes_max + RSS_GROWTH_BYTES_MAX


def test_a_content_length_that_is_not_a_number_is_a_400(cluster: LiveCluster) -> None:
    head = b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
    response = http_exchange(cluster.api_ports[0], head, iter([b""]))
    assert response.startswith(b"HTTP/1.1 400")


def test_a_content_length_of_superscript_digits_is_a_400(cluster: LiveCluster) -> None:
    head = b"POST /v1/txs HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n"  # "²"
    response = http_exchange(cluster.api_ports[0], head, iter([b""]))
    assert response.startswith(b"HTTP/1.1 400")


# str.isdigit() is true for these (latin-1 "²", "¹³"), int() refuses them.
ODD_DIGITS = [b"\xb2", b"\xb9\xb3", b"1\xb2"]


def odd_signature_head(request_line: bytes, timestamp: bytes, extra: bytes = b"") -> bytes:
    return (
        request_line
        + b"\r\nHost: x\r\nx-bftx-key: "
        + b"0" * 64
        + b"\r\nx-bftx-timestamp: "
        + timestamp
        + b"\r\nx-bftx-nonce: "
        + b"a" * 32
        + b"\r\nx-bftx-signature: "
        + b"0" * 128
        + b"\r\n"
        + extra
        + b"\r\n"
    )


@pytest.mark.parametrize("timestamp", ODD_DIGITS)
def test_a_timestamp_of_unicode_digits_is_unauthenticated_not_a_500(
    cluster: LiveCluster, timestamp: bytes
) -> None:
    head = odd_signature_head(b"GET /v1/health HTTP/1.1", timestamp)
    status, problem = status_and_problem(http_exchange(cluster.api_ports[0], head, iter([b""])))
    assert (status, problem["code"]) == (401, "unauthenticated")
    assert "milliseconds" in problem["detail"]


@pytest.mark.parametrize("timestamp", ODD_DIGITS)
def test_a_websocket_upgrade_with_a_timestamp_of_unicode_digits_is_refused_not_a_500(
    cluster: LiveCluster, timestamp: bytes
) -> None:
    upgrade = (
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    )
    head = odd_signature_head(b"GET /v1/ws HTTP/1.1", timestamp, upgrade)
    response = http_exchange(cluster.api_ports[0], head, iter([b""]))
    assert response.startswith(b"HTTP/1.1 403"), response[:200]


@pytest.mark.parametrize(
    "body",
    [
        b'{"tx":"\xff\xfe"}',  # not UTF-8
        # Past the default recursion limit, which guards the C parser in a node process
        # (test_a_node_process_keeps_the_default_recursion_limit). Not deeper: this test
        # process may have imported py_ecc, which raises the limit to 100,000, past what a
        # thread's C stack holds; here 5,000 levels parse and fail validation instead.
        b'{"tx":' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        b"{",
    ],
)
def test_an_unparsable_json_body_is_invalid_request(cluster: LiveCluster, body: bytes) -> None:
    response = cluster.http.post(
        f"{cluster.api_url()}/v1/txs", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_request")


def test_a_node_process_keeps_the_default_recursion_limit() -> None:
    """JSON bodies are parsed by the C decoder, whose only depth guard is the recursion
    limit; some Ethereum libraries (py_ecc, py-evm) raise it on import to 100,000, where
    a 200 kB body of brackets overflows the C stack. What a node process imports must not."""
    fresh = "import sys; print(sys.getrecursionlimit())"
    node = (
        "import sys, bftx.cli, bftx.cli.node, bftx.node.runtime, bftx.api.rest, "
        "bftx.api.grpc.server; print(sys.getrecursionlimit())"
    )
    limits_seen = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for code in (fresh, node)
    ]
    assert limits_seen[0].stdout == limits_seen[1].stdout, limits_seen[1].stdout


def test_a_body_within_the_bound_is_still_served(cluster: LiveCluster) -> None:
    response = cluster.http.post(f"{cluster.api_url()}/v1/txs/batch", json={"txs": []})
    assert response.status_code == 200
    assert response.json() == {"results": [], "accepted": 0}


def test_the_body_bound_fits_a_full_json_batch_of_a_full_block() -> None:
    tx_bytes = limits.block_txs_bytes_max // limits.txs_per_block_max
    body = json.dumps({"txs": ["0x" + "ab" * tx_bytes] * limits.txs_per_block_max})
    assert len(body) <= limits.api_request_bytes_max
    largest = json.dumps({"txs": ["0x" + "ab" * limits.tx_bytes_max]})
    assert len(largest) <= limits.api_request_bytes_max


# --- WebSocket ---------------------------------------------------------------------------


def ws_answer(cluster: LiveCluster, text: str) -> dict[str, Any]:
    with connect(cluster.ws_url(), open_timeout=5, close_timeout=2) as connection:
        connection.send(text)
        answer: dict[str, Any] = json.loads(connection.recv(timeout=5))
        return answer


def test_a_deeply_nested_websocket_message_gets_an_error_and_the_connection_stays(
    cluster: LiveCluster,
) -> None:
    with connect(cluster.ws_url(), open_timeout=5, close_timeout=2) as connection:
        connection.send("[" * 4_000)
        error = json.loads(connection.recv(timeout=5))
        assert (error["type"], error["code"]) == ("error", "invalid_json")
        assert "nested" in error["message"]
        connection.send(json.dumps({"op": "ping"}))
        assert json.loads(connection.recv(timeout=5))["type"] == "pong"


def test_a_websocket_message_is_measured_in_bytes_not_characters(cluster: LiveCluster) -> None:
    padding = "é" * (limits.websocket_message_bytes_max // 2)  # half as many chars as bytes
    message = json.dumps({"op": "ping", "pad": padding}, ensure_ascii=False)
    assert len(message) < limits.websocket_message_bytes_max < len(message.encode())
    with connect(cluster.ws_url(), open_timeout=5, close_timeout=2) as connection:
        connection.send(message)
        error = json.loads(connection.recv(timeout=5))
        assert (error["type"], error["code"]) == ("error", "message_too_large")
        fits = json.dumps({"op": "ping", "pad": "é" * 1_000}, ensure_ascii=False)
        connection.send(fits)  # 2,000-odd bytes: answered
        assert json.loads(connection.recv(timeout=5))["type"] == "pong"


def test_an_account_address_ending_in_a_newline_is_refused(cluster: LiveCluster) -> None:
    address = "ab" * 20 + "\n"
    answer = ws_answer(
        cluster, json.dumps({"op": "subscribe", "channel": "account", "address": address})
    )
    assert (answer["type"], answer["code"]) == ("error", "invalid_address")


def test_a_websocket_frame_past_the_bound_closes_with_1009(cluster: LiveCluster) -> None:
    with connect(cluster.ws_url(), open_timeout=5, close_timeout=2) as connection:
        connection.send("x" * (limits.websocket_frame_bytes_max + 1))
        with pytest.raises(ConnectionClosed) as closed:
            connection.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_json_depth_scan_ignores_brackets_inside_strings() -> None:
    assert not json_depth_exceeds(json.dumps({"a": "[[[[[[[[[["}), 2)
    assert json_depth_exceeds("[[[", 2)
    assert not json_depth_exceeds("[[]]", 2)
    assert not json_depth_exceeds(json.dumps({"a": '\\"[[[['}), 2)


# --- gRPC --------------------------------------------------------------------------------


@pytest.fixture
def channel(cluster: LiveCluster) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(cluster.grpc_target()) as opened:
        yield opened


def raw_call(channel: grpc.Channel, method: str, data: bytes) -> grpc.RpcError:
    call = channel.unary_unary(f"/bftx.v1.Bftx/{method}")
    with pytest.raises(grpc.RpcError) as raised:
        call(data, timeout=5)
    return raised.value


@pytest.mark.parametrize("method", ["GetTx", "GetBook", "GetAccount", "GetBlock", "GetStatus"])
def test_a_malformed_protobuf_is_invalid_argument_without_internal_names(
    channel: grpc.Channel, method: str
) -> None:
    error = raw_call(channel, method, b"\xff\xff\xff\xff\x0f")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = error.details() or ""
    assert details.startswith("malformed: ")
    assert "class" not in details and "Error" not in details


def test_a_block_height_past_every_integer_type_is_not_found(channel: grpc.Channel) -> None:
    stub = bftx_pb2_grpc.BftxStub(channel)
    with pytest.raises(grpc.RpcError) as raised:
        stub.GetBlock(pb.GetBlockRequest(height=2**63), timeout=5)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert (raised.value.details() or "").startswith("unknown_block: ")


def test_a_malformed_batch_in_a_submission_stream_is_invalid_argument(
    channel: grpc.Channel,
) -> None:
    call = channel.stream_unary("/bftx.v1.Bftx/SubmitTxs")
    with pytest.raises(grpc.RpcError) as raised:
        call(iter([pb.TxBatch().SerializeToString(), b"\xff\xff\xff"]), timeout=5)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (raised.value.details() or "").startswith("malformed: ")


def test_a_message_past_the_grpc_bound_is_resource_exhausted(channel: grpc.Channel) -> None:
    error = raw_call(channel, "GetTx", b"\x0a" + b"\x00" * (limits.grpc_message_bytes_max + 1))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
