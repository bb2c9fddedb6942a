"""The interchain module: light clients, transfers by packets, acks, timeouts, and every refusal."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from bftx.errors import Code
from bftx.exchange import ledger
from bftx.exchange.events import IbcClientFrozen
from bftx.exchange.interchain import ClientStatus, encode_ack, validate_receive, validate_update
from bftx.exchange.invariants import find_interchain_escrow_mismatches, find_violations
from bftx.exchange.keys import commitment_key, receipt_key
from bftx.exchange.snapshot import decode_snapshot, encode_snapshot
from bftx.exchange.transactions import (
    Burn,
    IbcAcknowledge,
    IbcCreateClient,
    IbcMisbehaviour,
    IbcReceive,
    IbcRecoverClient,
    IbcTimeout,
    IbcTransfer,
    IbcUpdateClient,
    Transfer,
)

from .interchain_support import DEPTH, HOUR_MS, Chain, Path
from .support import ALICE, BOB, CAROL

# --- the happy paths ------------------------------------------------------------------------


def test_a_transfer_arrives_as_a_voucher_and_the_ack_closes_it() -> None:
    path = Path.open()
    before = path.a.available(ALICE, "BTC")
    packet, height = path.send(amount=1_000)
    assert path.a.available(ALICE, "BTC") == before - 1_000
    assert path.a.available_of(ledger.INTERCHAIN_ACCOUNT, "BTC") == 1_000
    assert path.receive(packet, height) is Code.OK
    voucher = f"{path.b_client}/BTC"
    assert path.b.available(BOB, voucher) == 1_000
    assert path.b.exchange.state.assets[voucher].decimals == 8
    assert_escrow_covers_vouchers(path)
    assert path.acknowledge(packet) is Code.OK
    assert (path.a_client, packet.sequence) not in path.a.exchange.state.interchain.commitments
    assert path.a.available_of(ledger.INTERCHAIN_ACCOUNT, "BTC") == 1_000  # still escrowed


def assert_escrow_covers_vouchers(path: Path) -> None:
    """Cross-chain conservation: what A escrows for the route equals B's vouchers outstanding
    plus what is in flight between them."""
    escrowed = path.a.exchange.state.interchain.escrows.get(
        (path.a_client, path.b_client, "BTC"), 0
    )
    voucher = f"{path.b_client}/BTC"
    b_state = path.b.exchange.state
    outstanding = b_state.minted.get(voucher, 0) - b_state.burned.get(voucher, 0)
    received = {route[2] for route in b_state.interchain.receipts if route[0] == path.b_client}
    in_flight_out = sum(
        p.amount
        for (client, sequence), p in path.a.exchange.state.interchain.commitments.items()
        if client == path.a_client and sequence not in received
    )
    returned = {route[2] for route in path.a.exchange.state.interchain.receipts}
    in_flight_home = sum(
        p.amount
        for (client, sequence), p in b_state.interchain.commitments.items()
        if client == path.b_client and sequence not in returned
    )
    assert escrowed == outstanding + in_flight_out + in_flight_home


def test_a_voucher_is_an_ordinary_asset_and_goes_home_releasing_the_escrow() -> None:
    path = Path.open()
    packet, height = path.send(amount=1_000)
    assert path.receive(packet, height) is Code.OK
    voucher = f"{path.b_client}/BTC"
    assert path.b.run(BOB, Transfer(voucher, CAROL.address, 400)) is Code.OK
    assert path.b.available(CAROL, voucher) == 400
    back = path.reversed()
    home = IbcTransfer(
        voucher, 600, ALICE.address, back.a_client, back.b_client, back.a.timestamp_ms + HOUR_MS
    )
    receipt = back.a.receipt(BOB, home)
    assert receipt.code is Code.OK
    assert back.a.exchange.state.burned[voucher] == 600  # burnt on the way home
    assert_escrow_covers_vouchers(path)  # the voucher is burnt, its packet in flight
    sequence = back.a.exchange.state.interchain.clients[back.a_client].next_sequence - 1
    returning = back.a.exchange.state.interchain.commitments[(back.a_client, sequence)]
    before = path.a.available(ALICE, "BTC")
    assert back.receive(returning, back.a.exchange.height) is Code.OK
    assert path.a.available(ALICE, "BTC") == before + 600
    assert path.a.available_of(ledger.INTERCHAIN_ACCOUNT, "BTC") == 400
    assert_escrow_covers_vouchers(path)


def test_a_voucher_can_be_withdrawn_like_any_asset() -> None:
    path = Path.open()
    packet, height = path.send(amount=1_000)
    assert path.receive(packet, height) is Code.OK
    voucher = f"{path.b_client}/BTC"
    assert path.b.run(BOB, Burn(voucher, 250, "an external address")) is Code.OK
    assert path.b.available(BOB, voucher) == 750
    assert path.b.exchange.state.burned[voucher] == 250


def test_an_error_ack_refunds_the_sender() -> None:
    path = Path.open()
    timeout_ms = path.a.timestamp_ms + HOUR_MS
    body = IbcTransfer(
        "BTC", 500, ledger.CONTRACTS_ACCOUNT, path.a_client, path.b_client, timeout_ms
    )
    before = path.a.available(ALICE, "BTC")
    assert path.a.run(ALICE, body) is Code.OK
    packet = path.a.exchange.state.interchain.commitments[(path.a_client, 1)]
    receipt_code = path.receive(packet, path.a.exchange.height)
    assert receipt_code is Code.OK  # received: the ack carries the refusal
    route = (packet.destination_client, packet.source_client, packet.sequence)
    assert path.b.exchange.state.interchain.acks[route] == encode_ack("invalid_recipient")
    assert path.acknowledge(packet) is Code.OK
    assert path.a.available(ALICE, "BTC") == before
    assert path.a.available_of(ledger.INTERCHAIN_ACCOUNT, "BTC") == 0


def test_a_packet_not_received_in_time_is_timed_out_and_refunded() -> None:
    path = Path.open()
    before = path.a.available(ALICE, "BTC")
    packet, height = path.send(amount=700, timeout_in_ms=3_000)
    path.b.advance(6)  # B's time passes the timeout; nobody relayed the packet
    assert path.receive(packet, height) is Code.PACKET_TIMED_OUT
    assert path.timeout(packet) is Code.OK
    assert path.a.available(ALICE, "BTC") == before
    assert path.a.exchange.state.interchain.commitments == {}  # finished
    assert path.timeout(packet) is Code.UNKNOWN_PACKET  # finished: a second timeout is refused


def test_the_interchain_state_is_in_the_root_and_survives_a_snapshot() -> None:
    path = Path.open()
    for asset in ("USD", "BTC"):  # vouchers created out of name order
        packet, height = path.send(asset=asset, amount=1_000)
        assert path.receive(packet, height) is Code.OK
    path.send(amount=5)
    for chain in (path.a, path.b):
        state = chain.exchange.state
        root = chain.exchange.state_root()
        restored = decode_snapshot(state.genesis, encode_snapshot(state))
        assert restored.compute_state_root() == root
        assert restored.interchain.clients.keys() == state.interchain.clients.keys()
        assert find_violations(restored) == []  # the restored commitment is built from scratch


# --- light clients ----------------------------------------------------------------------------


def test_an_update_needs_a_quorum_of_the_tracked_validators() -> None:
    path = Path.open()
    path.a.advance(DEPTH)
    header, certificate = path.a.header(path.a.exchange.height, signers=2)
    code = path.b.run(CAROL, IbcUpdateClient(path.b_client, header, certificate))
    assert code is Code.INVALID_LIGHT_BLOCK


def test_a_foreign_chains_light_block_is_refused() -> None:
    path = Path.open()
    header, certificate = path.a.header(path.a.exchange.height, chain_id="chain-c")
    assert path.b.run(CAROL, IbcUpdateClient(path.b_client, header, certificate)) is (
        Code.INVALID_LIGHT_BLOCK
    )


def test_a_second_header_at_a_known_height_freezes_the_client() -> None:
    path = Path.open()
    height = path.a.exchange.height
    header, certificate = path.a.header(height, txs_root=b"\x01" * 32)
    receipt = path.b.receipt(CAROL, IbcUpdateClient(path.b_client, header, certificate))
    assert receipt.code is Code.OK
    assert any(isinstance(e, IbcClientFrozen) for e in receipt.events)
    client = path.b.exchange.state.interchain.clients[path.b_client]
    assert client.status(path.b.timestamp_ms) == ClientStatus.FROZEN


def test_submitted_misbehaviour_freezes_and_every_later_packet_is_refused() -> None:
    path = Path.open()
    packet, height = path.send()
    path.a.advance(DEPTH)
    first = path.a.header(height + DEPTH)
    second = path.a.header(height + DEPTH, txs_root=b"\x02" * 32)
    body = IbcMisbehaviour(path.b_client, *first, *second)
    assert path.b.run(CAROL, body) is Code.OK
    proof = path.a.prove(commitment_key(packet.source_client, packet.sequence), height)
    assert path.b.run(BOB, IbcReceive(packet.encode(), proof)) is Code.CLIENT_FROZEN
    assert path.b.run(CAROL, IbcMisbehaviour(path.b_client, *first, *second)) is (
        Code.CLIENT_FROZEN
    )


def test_an_expired_client_refuses_updates_and_packets() -> None:
    path = Path.open()
    client = path.b.exchange.state.interchain.clients[path.b_client]
    path.b.block([], timestamp_ms=client.latest_time_ms + HOUR_MS)
    assert client.status(path.b.timestamp_ms) == ClientStatus.EXPIRED
    path.a.advance(DEPTH)
    assert path.b.update(path.b_client, path.a, path.a.exchange.height) is Code.CLIENT_EXPIRED


def test_an_expired_client_is_recovered_from_a_newer_client_of_the_same_chain() -> None:
    path = Path.open()
    packet, _height = path.send(timeout_in_ms=3 * HOUR_MS)  # in flight when B's client expires
    client = path.b.exchange.state.interchain.clients[path.b_client]
    path.b.block([], timestamp_ms=client.latest_time_ms + HOUR_MS)
    path.a.advance(DEPTH)
    assert path.b.update(path.b_client, path.a, path.a.exchange.height) is Code.CLIENT_EXPIRED
    substitute = path.b.create_client(path.a)
    recover = IbcRecoverClient(path.b_client, substitute)
    assert path.b.run(CAROL, recover) is Code.CLIENT_NOT_RECOVERABLE  # it knows no newer header
    path.a.advance(DEPTH)
    assert path.b.update(substitute, path.a, path.a.exchange.height) is Code.OK
    receipt = path.b.receipt(CAROL, recover)
    assert receipt.code is Code.OK
    assert client.status(path.b.timestamp_ms) == ClientStatus.ACTIVE
    assert client.latest_height == path.a.exchange.height
    assert path.receive(packet, path.a.exchange.height) is Code.OK  # the route works again
    assert path.b.available(BOB, f"{path.b_client}/BTC") == packet.amount


def test_a_frozen_client_cannot_be_recovered() -> None:
    path = Path.open()
    height = path.a.exchange.height
    first, second = path.a.header(height), path.a.header(height, txs_root=b"\x05" * 32)
    assert path.b.run(CAROL, IbcMisbehaviour(path.b_client, *first, *second)) is Code.OK
    substitute = path.b.create_client(path.a)
    path.a.advance(DEPTH)
    assert path.b.update(substitute, path.a, path.a.exchange.height) is Code.OK
    recover = IbcRecoverClient(path.b_client, substitute)
    assert path.b.run(CAROL, recover) is Code.CLIENT_FROZEN


def test_a_flipped_byte_of_a_light_block_is_refused() -> None:
    path = Path.open()
    path.a.advance(DEPTH)
    header, certificate = path.a.header(path.a.exchange.height)
    state, now = path.b.exchange.state, path.b.timestamp_ms
    assert validate_update(state, IbcUpdateClient(path.b_client, header, certificate), now)[0] is (
        Code.OK
    )

    @settings(max_examples=60, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        in_header = data.draw(st.booleans())
        blob = header if in_header else certificate
        index = data.draw(st.integers(0, len(blob) - 1))
        bit = data.draw(st.integers(0, 7))
        flipped = bytearray(blob)
        flipped[index] ^= 1 << bit
        body = (
            IbcUpdateClient(path.b_client, bytes(flipped), certificate)
            if in_header
            else IbcUpdateClient(path.b_client, header, bytes(flipped))
        )
        assert validate_update(state, body, now)[0] is not Code.OK

    check()


def test_a_flipped_byte_of_a_proof_or_packet_is_refused() -> None:
    path = Path.open()
    packet, height = path.send()
    proof = path.commitment_proof(packet, height)
    encoded = packet.encode()
    state, now = path.b.exchange.state, path.b.timestamp_ms
    assert validate_receive(state, IbcReceive(encoded, proof), now)[0] is Code.OK

    @settings(max_examples=80, deadline=None)
    @given(st.data())
    def check(data: st.DataObject) -> None:
        in_proof = data.draw(st.booleans())
        blob = proof if in_proof else encoded
        index = data.draw(st.integers(0, len(blob) - 1))
        bit = data.draw(st.integers(0, 7))
        flipped = bytearray(blob)
        flipped[index] ^= 1 << bit
        body = (
            IbcReceive(encoded, bytes(flipped)) if in_proof else IbcReceive(bytes(flipped), proof)
        )
        assert validate_receive(state, body, now)[0] is not Code.OK

    check()


def test_the_escrow_checker_catches_a_missing_escrow() -> None:
    path = Path.open()
    path.send(amount=1_000)
    state = path.a.exchange.state
    assert find_interchain_escrow_mismatches(state) == []
    state.accounts[ledger.INTERCHAIN_ACCOUNT].balances["BTC"][0] -= 1
    assert find_interchain_escrow_mismatches(state) != []


def test_a_packet_is_received_once_and_cannot_be_rerouted_to_another_client() -> None:
    path = Path.open()
    packet, height = path.send()
    assert path.receive(packet, height) is Code.OK
    assert path.receive(packet, height) is Code.PACKET_ALREADY_RECEIVED
    second = path.b.create_client(path.a)  # B holds two clients of A
    path.a.advance(DEPTH)
    assert path.b.update(second, path.a, height + DEPTH) is Code.OK
    rerouted = dataclasses.replace(packet, destination_client=second)
    proof = path.a.prove(commitment_key(packet.source_client, packet.sequence), height)
    assert path.b.run(BOB, IbcReceive(rerouted.encode(), proof)) is Code.INVALID_PROOF
    assert path.b.available(BOB, f"{second}/BTC") == 0


# --- one scenario per result code (joined to test_rejections.py) -------------------------------


def unknown_client() -> Code:
    path = Path.open()
    return path.b.update("client-9", path.a, path.a.exchange.height)


def client_frozen() -> Code:
    path = Path.open()
    height = path.a.exchange.height
    first, second = path.a.header(height), path.a.header(height, txs_root=b"\x03" * 32)
    assert path.b.run(CAROL, IbcMisbehaviour(path.b_client, *first, *second)) is Code.OK
    return path.b.update(path.b_client, path.a, height)


def client_expired() -> Code:
    path = Path.open()
    client = path.a.exchange.state.interchain.clients[path.a_client]
    path.a.block([], timestamp_ms=client.latest_time_ms + HOUR_MS)
    body = IbcTransfer("BTC", 1, BOB.address, path.a_client, path.b_client, 10**13)
    return path.a.run(ALICE, body)


def invalid_client() -> Code:
    chain = Chain.open("chain-a", 100)
    return chain.run(CAROL, IbcCreateClient("chain-b", (), HOUR_MS))


def invalid_light_block() -> Code:
    path = Path.open()
    header, certificate = path.a.header(path.a.exchange.height, signers=1)
    return path.b.run(CAROL, IbcUpdateClient(path.b_client, header, certificate))


def invalid_misbehaviour() -> Code:
    path = Path.open()
    same = path.a.header(path.a.exchange.height)
    return path.b.run(CAROL, IbcMisbehaviour(path.b_client, *same, *same))


def invalid_packet() -> Code:
    path = Path.open()
    return path.b.run(BOB, IbcReceive(b"\x00not a packet", b""))


def invalid_proof() -> Code:
    path = Path.open()
    packet, height = path.send()
    path.commitment_proof(packet, height)
    wrong = path.a.prove(receipt_key("client-0", "client-0", 1), height)  # another key
    return path.b.run(BOB, IbcReceive(packet.encode(), wrong))


def unknown_proof_height() -> Code:
    path = Path.open()
    packet, height = path.send()
    path.a.advance(DEPTH)  # B's client never learns the header at height + 4
    proof = path.a.prove(commitment_key(packet.source_client, packet.sequence), height)
    return path.b.run(BOB, IbcReceive(packet.encode(), proof))


def packet_already_received() -> Code:
    path = Path.open()
    packet, height = path.send()
    assert path.receive(packet, height) is Code.OK
    return path.receive(packet, height)


def unknown_packet() -> Code:
    path = Path.open()
    packet, height = path.send()
    assert path.receive(packet, height) is Code.OK
    assert path.acknowledge(packet) is Code.OK
    return path.acknowledge(packet)


def packet_timed_out() -> Code:
    path = Path.open()
    packet, height = path.send(timeout_in_ms=2_000)
    path.b.advance(4)
    return path.receive(packet, height)


def timeout_not_reached() -> Code:
    path = Path.open()
    packet, _height = path.send(timeout_in_ms=HOUR_MS)
    return path.timeout(packet)


def invalid_timeout() -> Code:
    path = Path.open()
    body = IbcTransfer("BTC", 1, BOB.address, path.a_client, path.b_client, 1)
    return path.a.run(ALICE, body)


def client_not_recoverable() -> Code:
    path = Path.open()  # an active client cannot be "recovered"
    substitute = path.b.create_client(path.a)
    path.a.advance(DEPTH)
    assert path.b.update(substitute, path.a, path.a.exchange.height) is Code.OK
    return path.b.run(CAROL, IbcRecoverClient(path.b_client, substitute))


def too_many_clients() -> Code:
    from bftx import limits

    chain = Chain.open("chain-a", 100)
    chain.exchange.state.interchain.clients.update(
        {f"client-{n}": None for n in range(limits.interchain_clients_max)}  # type: ignore[misc]
    )
    return chain.run(CAROL, IbcCreateClient("chain-b", (b"\x01" * 32,), HOUR_MS))


INTERCHAIN_SCENARIOS: dict[Code, Callable[[], Code]] = {
    Code.UNKNOWN_CLIENT: unknown_client,
    Code.CLIENT_FROZEN: client_frozen,
    Code.CLIENT_EXPIRED: client_expired,
    Code.INVALID_CLIENT: invalid_client,
    Code.INVALID_LIGHT_BLOCK: invalid_light_block,
    Code.INVALID_MISBEHAVIOUR: invalid_misbehaviour,
    Code.INVALID_PACKET: invalid_packet,
    Code.INVALID_PROOF: invalid_proof,
    Code.UNKNOWN_PROOF_HEIGHT: unknown_proof_height,
    Code.PACKET_ALREADY_RECEIVED: packet_already_received,
    Code.UNKNOWN_PACKET: unknown_packet,
    Code.PACKET_TIMED_OUT: packet_timed_out,
    Code.TIMEOUT_NOT_REACHED: timeout_not_reached,
    Code.INVALID_TIMEOUT: invalid_timeout,
    Code.TOO_MANY_CLIENTS: too_many_clients,
    Code.CLIENT_NOT_RECOVERABLE: client_not_recoverable,
}


def test_an_ack_with_a_forged_result_is_refused() -> None:
    path = Path.open()
    packet, height = path.send(amount=300)
    assert path.receive(packet, height) is Code.OK
    height_b = path.b.exchange.height
    path.b.advance(DEPTH)
    assert path.a.update(path.a_client, path.b, height_b + DEPTH) is Code.OK
    route = (packet.destination_client, packet.source_client, packet.sequence)
    from bftx.exchange.keys import ack_key

    proof = path.b.prove(ack_key(*route), height_b)
    forged = encode_ack("insufficient_funds")  # would refund ALICE although BOB was paid
    body = IbcAcknowledge(packet.encode(), forged, proof)
    assert path.a.run(ALICE, body) is Code.INVALID_PROOF


def test_a_timeout_with_a_receipt_present_is_refused() -> None:
    path = Path.open()
    packet, height = path.send(timeout_in_ms=20_000)
    assert path.receive(packet, height) is Code.OK
    path.b.advance(25)
    assert path.timeout(packet) is Code.INVALID_PROOF


def test_arbitrary_bytes_in_interchain_txs_are_result_codes_never_exceptions() -> None:
    path = Path.open()
    chain = path.b
    client_id = path.b_client

    @settings(max_examples=60, deadline=None)
    @given(
        st.binary(max_size=300),
        st.binary(max_size=300),
        st.sampled_from(["receive", "ack", "timeout", "update", "misbehaviour"]),
    )
    def check(first: bytes, second: bytes, kind: str) -> None:
        bodies = {
            "receive": IbcReceive(first, second),
            "ack": IbcAcknowledge(first, second, second),
            "timeout": IbcTimeout(first, second),
            "update": IbcUpdateClient(client_id, first, second),
            "misbehaviour": IbcMisbehaviour(client_id, first, second, second, first),
        }
        assert chain.run(CAROL, bodies[kind]) is not Code.OK

    check()
