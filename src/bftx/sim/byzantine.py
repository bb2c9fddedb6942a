"""Byzantine behaviours: what a faulty validator does with its key.

A byzantine node runs the real `Replica` (so it follows the protocol well
enough to matter) and a `Behaviour` rewrites what it sends: an equivocating
primary, double votes, invalid or forged signatures, far-future views and
sequence numbers, junk bytes; or it stays silent, censors client txs, or runs
as twins (two instances with one key). The adversary is omniscient, as in a
simulation it may be: the equivocator re-targets replicas that restart.
This module never touches honest replicas' state; it only sends messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bftx.consensus import Broadcast, Send, SignedMessage
from bftx.consensus.messages import (
    Block,
    BlockHeader,
    Body,
    CertifiedBlock,
    Checkpoint,
    Commit,
    CommitCertificate,
    FetchReply,
    Prepare,
    PrePrepare,
    SignatureShare,
    ViewChange,
    compute_signing_payload,
    create_block,
)
from bftx.crypto import merkle_root

if TYPE_CHECKING:
    from bftx.sim.simulation import Instance, Simulation

FAR = 1_000_000


class Behaviour:
    name = "honest"
    needs_replica = True
    receives_client_txs = True
    tick_interval_ms = 0

    def on_output(self, sim: Simulation, instance: Instance, output: Send | Broadcast) -> None:
        sim.transmit(instance.node_id, withhold_prepared(sim, instance.node_id, output))

    def on_tick(self, sim: Simulation, instance: Instance) -> None:
        """Called every ``tick_interval_ms`` while the instance is up."""

    def on_restart(self, sim: Simulation, instance: Instance, restarted: int) -> None:
        """An honest node just restarted (the adversary sees everything)."""


def withhold_prepared(sim: Simulation, node: int, output: Send | Broadcast) -> Send | Broadcast:
    """A byzantine VIEW-CHANGE claims nothing was prepared: the new view must learn it from
    honest replicas alone, which is what a forgotten journal breaks."""
    body = output.message.body
    if not isinstance(body, ViewChange) or (not body.prepared and body.checkpoint is None):
        return output
    hollow = sign_as(sim, node, ViewChange(body.new_view, None, ()))
    return Broadcast(hollow) if isinstance(output, Broadcast) else Send(output.to, hollow)


def sign_as(sim: Simulation, signer: int, body: Body) -> SignedMessage:
    payload = compute_signing_payload(sim.config.chain_id, body)
    return SignedMessage(body, signer, sim.keys[signer].sign(payload))


def peers_of(sim: Simulation, node: int) -> list[int]:
    return [peer for peer in range(sim.scenario.nodes) if peer != node]


def send_payload(sim: Simulation, sender: int, receiver: int, message: SignedMessage) -> None:
    sim.transmit(sender, Send(receiver, message))


class Silence(Behaviour):
    name = "silence"
    needs_replica = False


class Censorship(Behaviour):
    """Follows the protocol but never proposes a client tx: honest replicas must change view."""

    name = "censorship"
    receives_client_txs = False


class Twins(Behaviour):
    """Two honest instances sharing one key (the Twins paper): they equivocate by accident."""

    name = "twins"


@dataclass(slots=True)
class _Split:
    original: SignedMessage  # PRE-PREPARE for group A
    variant: SignedMessage  # PRE-PREPARE for group B
    group_b: set[int]
    votes: dict[type, tuple[SignedMessage, SignedMessage]] = field(default_factory=dict)


class Equivocation(Behaviour):
    """As primary, proposes two different blocks to two groups and votes for both."""

    name = "equivocation"

    def __init__(self) -> None:
        self.splits: dict[tuple[int, int], _Split] = {}

    def on_output(self, sim: Simulation, instance: Instance, output: Send | Broadcast) -> None:
        message = output.message
        body = message.body
        node = instance.node_id
        if isinstance(output, Broadcast) and isinstance(body, PrePrepare):
            split = self._split(sim, node, message, body)
            for peer in peers_of(sim, node):
                chosen = split.variant if peer in split.group_b else split.original
                send_payload(sim, node, peer, chosen)
            sim.faults["equivocation"] += 1
            return
        if isinstance(output, Broadcast) and isinstance(body, Prepare | Commit):
            known = self.splits.get((body.view, body.seq))
            original = None if known is None else known.original.body
            if isinstance(original, PrePrepare) and body.digest == original.block.digest:
                assert known is not None
                first, second = self._votes(sim, node, known, message, body)
                for peer in peers_of(sim, node):
                    send_payload(sim, node, peer, second if peer in known.group_b else first)
                return
        sim.transmit(node, withhold_prepared(sim, node, output))

    def _split(
        self, sim: Simulation, node: int, message: SignedMessage, body: PrePrepare
    ) -> _Split:
        key = (body.view, body.seq)
        split = self.splits.get(key)
        if split is not None and split.original == message:
            return split
        header = body.block.header
        variant_block = create_block(
            replace(header, timestamp_ms=header.timestamp_ms + 1), body.block.txs
        )
        variant = sign_as(sim, node, PrePrepare(body.view, body.seq, variant_block))
        peers = peers_of(sim, node)
        # Group A plus this node is exactly a quorum: the real block still commits, but only
        # the fewest honest replicas hold its prepared certificate.
        size = max(1, len(peers) - (sim.config.validators.quorum - 1))
        split = _Split(message, variant, set(sim.adversary_rng.sample(peers, size)))
        self.splits[key] = split
        if len(self.splits) > 64:
            del self.splits[min(self.splits)]
        return split

    def _votes(
        self,
        sim: Simulation,
        node: int,
        split: _Split,
        message: SignedMessage,
        body: Prepare | Commit,
    ) -> tuple[SignedMessage, SignedMessage]:
        known = split.votes.get(type(body))
        if known is None:
            assert isinstance(split.variant.body, PrePrepare)
            other = type(body)(body.view, body.seq, split.variant.body.block.digest)
            known = (message, sign_as(sim, node, other))
            split.votes[type(body)] = known
        return known

    def on_restart(self, sim: Simulation, instance: Instance, restarted: int) -> None:
        """Show the restarted replica the other side of every recent split."""
        node = instance.node_id
        for key in sorted(self.splits)[-8:]:
            split = self.splits[key]
            if restarted in split.group_b:
                split.group_b.discard(restarted)
                pre_prepare = split.original
                votes = [pair[0] for pair in split.votes.values()]
            else:
                split.group_b.add(restarted)
                pre_prepare = split.variant
                votes = [pair[1] for pair in split.votes.values()]
            sim.faults["equivocation"] += 1
            for message in (pre_prepare, *votes):
                send_payload(sim, node, restarted, message)


class DoubleVote(Behaviour):
    """Every PREPARE and COMMIT also goes out for a second, made-up digest to some peers."""

    name = "double_vote"

    def on_output(self, sim: Simulation, instance: Instance, output: Send | Broadcast) -> None:
        sim.transmit(instance.node_id, withhold_prepared(sim, instance.node_id, output))
        body = output.message.body
        if isinstance(output, Broadcast) and isinstance(body, Prepare | Commit):
            node = instance.node_id
            digest = sim.adversary_rng.randbytes(32)
            other = sign_as(sim, node, type(body)(body.view, body.seq, digest))
            peers = peers_of(sim, node)
            for peer in sim.adversary_rng.sample(peers, max(1, len(peers) // 2)):
                send_payload(sim, node, peer, other)
            sim.faults["double_vote"] += 1


class InvalidSignature(Behaviour):
    """Half its messages carry broken signatures; it also forges other validators' votes."""

    name = "invalid_signature"
    tick_interval_ms = 300

    def on_output(self, sim: Simulation, instance: Instance, output: Send | Broadcast) -> None:
        if sim.adversary_rng.random() < 0.5:
            sim.transmit(instance.node_id, output)
            return
        message = output.message
        broken = SignedMessage(message.body, message.signer, _flip(message.signature))
        sim.faults["invalid_signature"] += 1
        if isinstance(output, Send):
            sim.transmit(instance.node_id, Send(output.to, broken))
        else:
            sim.transmit(instance.node_id, Broadcast(broken))

    def on_tick(self, sim: Simulation, instance: Instance) -> None:
        """Forge a state-transfer reply: made-up blocks 'certified' by forged signatures."""
        replica = instance.replica
        assert replica is not None
        validators = sim.config.validators
        rng = sim.adversary_rng
        blocks = []
        for height in range(replica.last_executed + 1, replica.last_executed + 3):
            txs = (b"tx:forged:%d" % height,)
            header = BlockHeader(
                chain_id=sim.config.chain_id,
                height=height,
                view=replica.view,
                anchor_hash=bytes(32),
                anchor_state_root=b"",
                txs_root=merkle_root(txs),
                proposer=validators.primary_of(replica.view),
                timestamp_ms=sim.now,
                is_null=False,
            )
            block: Block = create_block(header, txs)
            shares = tuple(
                SignatureShare(signer, rng.randbytes(64)) for signer in range(validators.quorum)
            )
            certificate = CommitCertificate(replica.view, height, block.digest, shares)
            blocks.append(CertifiedBlock(block, certificate))
        impostor = rng.choice(peers_of(sim, instance.node_id))
        forged = SignedMessage(FetchReply(None, tuple(blocks), None), impostor, rng.randbytes(64))
        for peer in peers_of(sim, instance.node_id):
            send_payload(sim, instance.node_id, peer, forged)
        sim.faults["invalid_signature"] += 1


class FarFuture(Behaviour):
    """Correctly signed messages for views and sequence numbers far ahead."""

    name = "far_future"
    tick_interval_ms = 250

    def on_tick(self, sim: Simulation, instance: Instance) -> None:
        replica = instance.replica
        assert replica is not None
        node = instance.node_id
        rng = sim.adversary_rng
        digest = rng.randbytes(32)
        interval = sim.config.checkpoint_interval_blocks
        bodies: list[Body] = [
            Prepare(replica.view + FAR, replica.last_executed + 1, digest),
            Commit(replica.view, replica.last_executed + FAR, digest),
            Checkpoint(interval * FAR, digest, digest),
            ViewChange(replica.view + FAR, None, ()),
        ]
        for body in bodies:
            sim.transmit(node, Broadcast(sign_as(sim, node, body)))
            sim.faults["far_future"] += 1


class JunkFlood(Behaviour):
    """Floods peers with bytes that are not messages at all."""

    name = "junk_flood"
    tick_interval_ms = 100

    def on_tick(self, sim: Simulation, instance: Instance) -> None:
        rng = sim.adversary_rng
        for peer in peers_of(sim, instance.node_id):
            for _ in range(3):
                junk = rng.randbytes(rng.randint(1, 200))
                sim.send(instance.node_id, peer, junk)
                sim.faults["junk_flood"] += 1


def _flip(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 0x01]) + signature[1:]


_BEHAVIOURS: dict[str, type[Behaviour]] = {
    behaviour.name: behaviour
    for behaviour in (
        Silence,
        Censorship,
        Twins,
        Equivocation,
        DoubleVote,
        InvalidSignature,
        FarFuture,
        JunkFlood,
    )
}


def create_behaviour(name: str) -> Behaviour:
    return _BEHAVIOURS[name]()
