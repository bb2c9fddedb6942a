"""The packet listing behind GET /v1/ibc/packets: filters, order, proof keys and acks."""

from __future__ import annotations

from bftx.api.interchain import client_model, interchain_account_events, list_packets
from bftx.exchange.events import IbcPacketReceived, IbcPacketSent
from bftx.exchange.keys import parse_interchain_key
from bftx.exchange.proofs import parse_key
from tests.exchange.interchain_support import Path
from tests.exchange.support import ALICE, BOB


def test_packets_are_listed_by_kind_client_and_sequence_with_their_proof_keys() -> None:
    path = Path.open()
    sent = [path.send(amount=100 + n) for n in range(3)]
    assert [p.sequence for p in list_packets(path.a.exchange, path.a_client, "commitment", 10)] == [
        1,
        2,
        3,
    ]
    assert [p.sequence for p in list_packets(path.a.exchange, None, "commitment", 10, None, 2)] == [
        2,
        3,
    ]
    assert list_packets(path.a.exchange, "client-7", "commitment", 10) == []
    packet, height = sent[0]
    assert path.receive(packet, height) is not None
    (entry,) = list_packets(path.b.exchange, path.b_client, "ack", 10, path.a_client)
    assert entry.ack == {"success": True, "error": "", "hex": entry.ack["hex"]}
    assert list_packets(path.b.exchange, path.b_client, "receipt", 10, "client-5") == []
    assert list_packets(path.b.exchange, path.b_client, "receipt", 10, None, 2) == []
    for key in (entry.commitment_key, entry.receipt_key, entry.ack_key):
        assert parse_key(key) == parse_interchain_key(*key.split(":", 1))
    assert entry.packet["amount_units"] == "100" and entry.amount == "0.00000100"


def test_a_client_reads_expired_once_its_trusting_period_ran_out() -> None:
    path = Path.open()
    client = path.b.exchange.state.interchain.clients[path.b_client]
    assert client_model(client, client.latest_time_ms).status == "active"
    late = client.latest_time_ms + client.trusting_period_ms
    assert client_model(client, late).status == "expired"


def test_funds_leaving_arriving_and_returning_reach_the_account_channel() -> None:
    assets = Path.open().a.exchange.state.assets
    sent = IbcPacketSent("client-0", 1, ALICE.address, BOB.address, "BTC", 150_000_000, 9)
    ((owner, payload),) = interchain_account_events(sent, assets)
    assert (owner, payload["event"], payload["amount"]) == (ALICE.address, "ibc_sent", "1.50000000")
    arrived = IbcPacketReceived("client-0", "client-3", 1, BOB.address, "BTC", 1, "")
    assert interchain_account_events(arrived, assets)[0][1]["event"] == "ibc_received"
    refused = IbcPacketReceived("client-0", "client-3", 1, BOB.address, "BTC", 1, "unknown_asset")
    assert interchain_account_events(refused, assets) == []
