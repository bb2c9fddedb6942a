"""Two in-process chains with real light blocks (headers signed by 2f+1 of 4 validators)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bftx import codec, crypto, limits
from bftx.crypto import KeyPair
from bftx.errors import Code
from bftx.exchange import Exchange, Tx, decode_tx, sign_tx
from bftx.exchange.events import IbcClientCreated, IbcPacketSent
from bftx.exchange.interchain import Packet, encode_ack
from bftx.exchange.keys import ack_key, commitment_key, receipt_key
from bftx.exchange.proofs import StateProof, encode_proof
from bftx.exchange.transactions import (
    Body,
    IbcAcknowledge,
    IbcCreateClient,
    IbcReceive,
    IbcTimeout,
    IbcTransfer,
    IbcUpdateClient,
)
from bftx.lightblock import (
    BlockHeader,
    CommitCertificate,
    SignatureShare,
    compute_commit_payload,
    compute_header_digest,
)

from .support import ALICE, BOB, CAROL, World, key, make_genesis

DEPTH = limits.pipeline_depth_blocks
HOUR_MS = 3_600_000


@dataclass
class Chain(World):
    """A `World` whose txs are signed for its own chain id, and that can certify its blocks."""

    validators: tuple[KeyPair, ...] = ()
    roots: dict[int, bytes] = field(default_factory=dict)
    times: dict[int, int] = field(default_factory=dict)
    clock: list[int] = field(default_factory=lambda: [1_000])  # shared by the chains of a path

    @staticmethod
    def open(chain_id: str, validator_seed: int) -> Chain:
        validators = tuple(key(validator_seed + index) for index in range(4))
        genesis = make_genesis([ALICE, BOB, CAROL], chain_id=chain_id)
        return Chain(Exchange(genesis), validators=validators)

    @property
    def chain_id(self) -> str:
        return self.exchange.chain_id

    @property
    def public_keys(self) -> tuple[bytes, ...]:
        return tuple(v.public_key for v in self.validators)

    def tx(self, signer: KeyPair, body: Body, nonce: int | None = None) -> Tx:
        if nonce is None:
            nonce = self.nonces.get(signer.address, 0)
            self.nonces[signer.address] = nonce + 1
        return decode_tx(sign_tx(signer, self.chain_id, nonce, body))

    def block(self, txs: list[Tx], timestamp_ms: int | None = None):  # type: ignore[no-untyped-def]
        if timestamp_ms is None:  # one wall clock for both chains: a block takes a second
            timestamp_ms = max(self.clock[0], self.timestamp_ms) + 1_000
        self.clock[0] = max(self.clock[0], timestamp_ms)
        result = super().block(txs, timestamp_ms)
        self.roots[result.height] = result.state_root
        self.times[result.height] = result.timestamp_ms
        return result

    def available_of(self, address: bytes, asset: str) -> int:
        return self.exchange.state.peek_account(address).available(asset)

    def advance(self, blocks: int = DEPTH) -> None:
        for _ in range(blocks):
            self.block([])

    def header(
        self,
        height: int,
        signers: int = 3,
        timestamp_ms: int | None = None,
        txs_root: bytes = bytes(32),
        chain_id: str | None = None,
    ) -> tuple[bytes, bytes]:
        """The light block at ``height`` (header bytes, certificate bytes)."""
        header = BlockHeader(
            chain_id=chain_id or self.chain_id,
            height=height,
            view=0,
            anchor_hash=crypto.sha256(b"anchor" + height.to_bytes(8, "big")),
            anchor_state_root=self.roots[height - DEPTH],
            txs_root=txs_root,
            proposer=0,
            timestamp_ms=self.times[height] if timestamp_ms is None else timestamp_ms,
            is_null=False,
        )
        digest = compute_header_digest(header)
        payload = compute_commit_payload(header.chain_id, 0, height, digest)
        shares = tuple(
            SignatureShare(index, validator.sign(payload))
            for index, validator in enumerate(self.validators[:signers])
        )
        certificate = CommitCertificate(0, height, digest, shares)
        return codec.encode(header.to_value()), codec.encode(certificate.to_value())

    def prove(self, state_key: bytes, height: int) -> bytes:
        found = self.exchange.prove(state_key, height)
        assert found is not None
        return encode_proof(StateProof(height, found))

    def create_client(self, other: Chain, trusting_period_ms: int = HOUR_MS) -> str:
        receipt = self.receipt(
            CAROL, IbcCreateClient(other.chain_id, other.public_keys, trusting_period_ms)
        )
        assert receipt.code is Code.OK, receipt.code
        (event,) = receipt.events
        assert isinstance(event, IbcClientCreated)
        return event.client_id

    def update(self, client_id: str, other: Chain, height: int) -> Code:
        header, certificate = other.header(height)
        return self.run(CAROL, IbcUpdateClient(client_id, header, certificate))


@dataclass
class Path:
    """Chain A's client of B (``a_client``) and B's client of A (``b_client``)."""

    a: Chain
    b: Chain
    a_client: str
    b_client: str

    @staticmethod
    def open() -> Path:
        a, b = Chain.open("chain-a", 100), Chain.open("chain-b", 200)
        b.clock = a.clock
        a_client, b_client = a.create_client(b), b.create_client(a)
        a.advance(DEPTH + 1)
        b.advance(DEPTH + 1)
        assert a.update(a_client, b, b.exchange.height) is Code.OK
        assert b.update(b_client, a, a.exchange.height) is Code.OK
        return Path(a, b, a_client, b_client)

    def reversed(self) -> Path:
        return Path(self.b, self.a, self.b_client, self.a_client)

    def send(
        self, asset: str = "BTC", amount: int = 1_000, timeout_in_ms: int = HOUR_MS
    ) -> tuple[Packet, int]:
        """ALICE on A sends to BOB on B; the packet and the height of its commitment."""
        body = IbcTransfer(
            asset,
            amount,
            BOB.address,
            self.a_client,
            self.b_client,
            self.timeout_after(timeout_in_ms),
        )
        receipt = self.a.receipt(ALICE, body)
        assert receipt.code is Code.OK, receipt.code
        sent = next(e for e in receipt.events if isinstance(e, IbcPacketSent))
        packet = self.a.exchange.state.interchain.commitments[(self.a_client, sent.sequence)]
        return packet, self.a.exchange.height

    def timeout_after(self, in_ms: int) -> int:
        """A timeout ``in_ms`` after the later of A's time and the newest time A knows of B."""
        client = self.a.exchange.state.interchain.clients[self.a_client]
        return max(self.a.timestamp_ms, client.latest_time_ms) + in_ms

    def commitment_proof(self, packet: Packet, height: int) -> bytes:
        """Certify A's state at ``height`` to B's client, and prove the commitment there."""
        self.a.advance(max(0, height + DEPTH - self.a.exchange.height))
        assert self.b.update(self.b_client, self.a, height + DEPTH) is Code.OK
        return self.a.prove(commitment_key(packet.source_client, packet.sequence), height)

    def receive(self, packet: Packet, height: int) -> Code:
        proof = self.commitment_proof(packet, height)
        return self.b.run(BOB, IbcReceive(packet.encode(), proof))

    def acknowledge(self, packet: Packet) -> Code:
        """Certify B's current state to A's client, and acknowledge with B's ack."""
        height = self.b.exchange.height
        self.b.advance(DEPTH)
        assert self.a.update(self.a_client, self.b, height + DEPTH) is Code.OK
        route = (packet.destination_client, packet.source_client, packet.sequence)
        ack = self.b.exchange.state.interchain.acks[route]
        proof = self.b.prove(ack_key(*route), height)
        return self.a.run(ALICE, IbcAcknowledge(packet.encode(), ack, proof))

    def timeout(self, packet: Packet) -> Code:
        """Certify B's current state (and the header at its height) to A; time out there."""
        height = self.b.exchange.height
        self.b.advance(DEPTH)
        assert self.a.update(self.a_client, self.b, height) is Code.OK
        assert self.a.update(self.a_client, self.b, height + DEPTH) is Code.OK
        route = (packet.destination_client, packet.source_client, packet.sequence)
        proof = self.b.prove(receipt_key(*route), height)
        return self.a.run(ALICE, IbcTimeout(packet.encode(), proof))


SUCCESS_ACK = encode_ack("")
