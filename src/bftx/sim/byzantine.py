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

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bftx.consensus import Broadcast, ConsensusConfig, Replica, Send, SignedMessage
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
from bftx.crypto import KeyPair, merkle_root

FAR = 1_000_000


@dataclass(frozen=True, slots=True)
class AdversaryContext:
    """What a byzantine behaviour may see and do: keys, the clock, and the network's send.

    The simulation builds one and hands it to every behaviour, so this module
    needs nothing from `bftx.sim.simulation` (which imports this one).
    """

    config: ConsensusConfig
    keys: list[KeyPair]  # every validator's: the adversary may sign only as byzantine nodes
    nodes: int
    rng: random.Random
    faults: Counter[str]
    clock: Callable[[], int]  # simulated milliseconds
    transmit: Callable[[int, Send | Broadcast], None]  # (sender, output), through network faults
    send_bytes: Callable[[int, int, bytes], None]  # (sender, receiver, raw bytes)


class Behaviour:
    name = "honest"
    needs_replica = True
    receives_client_txs = True
    tick_interval_ms = 0

    def on_output(self, context: AdversaryContext, node: int, output: Send | Broadcast) -> None:
        context.transmit(node, withhold_prepared(context, node, output))

    def on_tick(self, context: AdversaryContext, node: int, replica: Replica) -> None:
        """Called every ``tick_interval_ms`` while the instance is up."""

    def on_restart(self, context: AdversaryContext, node: int, restarted: int) -> None:
        """An honest node just restarted (the adversary sees everything)."""


def withhold_prepared(
    context: AdversaryContext, node: int, output: Send | Broadcast
) -> Send | Broadcast:
    """A byzantine VIEW-CHANGE claims nothing was prepared: the new view must learn it from
    honest replicas alone, which is what a forgotten journal breaks."""
    body = output.message.body
    if not isinstance(body, ViewChange) or (not body.prepared and body.checkpoint is None):
        return output
    hollow = sign_as(context, node, ViewChange(body.new_view, None, (), body.suspicions))
    return Broadcast(hollow) if isinstance(output, Broadcast) else Send(output.to, hollow)


def sign_as(context: AdversaryContext, signer: int, body: Body) -> SignedMessage:
    payload = compute_signing_payload(context.config.chain_id, body)
    return SignedMessage(body, signer, context.keys[signer].sign(payload))


def peers_of(context: AdversaryContext, node: int) -> list[int]:
    return [peer for peer in range(context.nodes) if peer != node]


def send_payload(
    context: AdversaryContext, sender: int, receiver: int, message: SignedMessage
) -> None:
    context.transmit(sender, Send(receiver, message))


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

    def on_output(self, context: AdversaryContext, node: int, output: Send | Broadcast) -> None:
        message = output.message
        body = message.body
        if isinstance(output, Broadcast) and isinstance(body, PrePrepare):
            split = self._split(context, node, message, body)
            for peer in peers_of(context, node):
                chosen = split.variant if peer in split.group_b else split.original
                send_payload(context, node, peer, chosen)
            context.faults["equivocation"] += 1
            return
        if isinstance(output, Broadcast) and isinstance(body, Prepare | Commit):
            known = self.splits.get((body.view, body.seq))
            original = None if known is None else known.original.body
            if isinstance(original, PrePrepare) and body.digest == original.block.digest:
                assert known is not None
                first, second = self._votes(context, node, known, message, body)
                for peer in peers_of(context, node):
                    send_payload(context, node, peer, second if peer in known.group_b else first)
                return
        context.transmit(node, withhold_prepared(context, node, output))

    def _split(
        self, context: AdversaryContext, node: int, message: SignedMessage, body: PrePrepare
    ) -> _Split:
        key = (body.view, body.seq)
        split = self.splits.get(key)
        if split is not None and split.original == message:
            return split
        header = body.block.header
        variant_block = create_block(
            replace(header, timestamp_ms=header.timestamp_ms + 1), body.block.txs
        )
        variant = sign_as(context, node, PrePrepare(body.view, body.seq, variant_block))
        peers = peers_of(context, node)
        # Group A plus this node is exactly a quorum: the real block still commits, but only
        # the fewest honest replicas hold its prepared certificate.
        size = max(1, len(peers) - (context.config.validators.quorum - 1))
        split = _Split(message, variant, set(context.rng.sample(peers, size)))
        self.splits[key] = split
        if len(self.splits) > 64:
            del self.splits[min(self.splits)]
        return split

    def _votes(
        self,
        context: AdversaryContext,
        node: int,
        split: _Split,
        message: SignedMessage,
        body: Prepare | Commit,
    ) -> tuple[SignedMessage, SignedMessage]:
        known = split.votes.get(type(body))
        if known is None:
            assert isinstance(split.variant.body, PrePrepare)
            other = type(body)(body.view, body.seq, split.variant.body.block.digest)
            known = (message, sign_as(context, node, other))
            split.votes[type(body)] = known
        return known

    def on_restart(self, context: AdversaryContext, node: int, restarted: int) -> None:
        """Show the restarted replica the other side of every recent split."""
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
            context.faults["equivocation"] += 1
            for message in (pre_prepare, *votes):
                send_payload(context, node, restarted, message)


class DoubleVote(Behaviour):
    """Every PREPARE and COMMIT also goes out for a second, made-up digest to some peers."""

    name = "double_vote"

    def on_output(self, context: AdversaryContext, node: int, output: Send | Broadcast) -> None:
        context.transmit(node, withhold_prepared(context, node, output))
        body = output.message.body
        if isinstance(output, Broadcast) and isinstance(body, Prepare | Commit):
            digest = context.rng.randbytes(32)
            other = sign_as(context, node, type(body)(body.view, body.seq, digest))
            peers = peers_of(context, node)
            for peer in context.rng.sample(peers, max(1, len(peers) // 2)):
                send_payload(context, node, peer, other)
            context.faults["double_vote"] += 1


class InvalidSignature(Behaviour):
    """Half its messages carry broken signatures; it also forges other validators' votes."""

    name = "invalid_signature"
    tick_interval_ms = 300

    def on_output(self, context: AdversaryContext, node: int, output: Send | Broadcast) -> None:
        if context.rng.random() < 0.5:
            context.transmit(node, output)
            return
        message = output.message
        broken = SignedMessage(message.body, message.signer, _flip(message.signature))
        context.faults["invalid_signature"] += 1
        if isinstance(output, Send):
            context.transmit(node, Send(output.to, broken))
        else:
            context.transmit(node, Broadcast(broken))

    def on_tick(self, context: AdversaryContext, node: int, replica: Replica) -> None:
        """Forge a state-transfer reply: made-up blocks 'certified' by forged signatures."""
        validators = context.config.validators
        rng = context.rng
        blocks = []
        for height in range(replica.last_executed + 1, replica.last_executed + 3):
            txs = (b"tx:forged:%d" % height,)
            header = BlockHeader(
                chain_id=context.config.chain_id,
                height=height,
                view=replica.view,
                anchor_hash=bytes(32),
                anchor_state_root=b"",
                txs_root=merkle_root(txs),
                proposer=validators.primary_of(replica.view),
                timestamp_ms=context.clock(),
                is_null=False,
            )
            block: Block = create_block(header, txs)
            shares = tuple(
                SignatureShare(signer, rng.randbytes(64)) for signer in range(validators.quorum)
            )
            certificate = CommitCertificate(replica.view, height, block.digest, shares)
            blocks.append(CertifiedBlock(block, certificate))
        impostor = rng.choice(peers_of(context, node))
        forged = SignedMessage(FetchReply(None, tuple(blocks), None), impostor, rng.randbytes(64))
        for peer in peers_of(context, node):
            send_payload(context, node, peer, forged)
        context.faults["invalid_signature"] += 1


class FarFuture(Behaviour):
    """Correctly signed messages for views and sequence numbers far ahead."""

    name = "far_future"
    tick_interval_ms = 250

    def on_tick(self, context: AdversaryContext, node: int, replica: Replica) -> None:
        rng = context.rng
        digest = rng.randbytes(32)
        interval = context.config.checkpoint_interval_blocks
        bodies: list[Body] = [
            Prepare(replica.view + FAR, replica.last_executed + 1, digest),
            Commit(replica.view, replica.last_executed + FAR, digest),
            Checkpoint(interval * FAR, digest, digest),
            ViewChange(replica.view + FAR, None, (), ()),
        ]
        for body in bodies:
            context.transmit(node, Broadcast(sign_as(context, node, body)))
            context.faults["far_future"] += 1


class JunkFlood(Behaviour):
    """Floods peers with bytes that are not messages at all."""

    name = "junk_flood"
    tick_interval_ms = 100

    def on_tick(self, context: AdversaryContext, node: int, replica: Replica) -> None:
        rng = context.rng
        for peer in peers_of(context, node):
            for _ in range(3):
                junk = rng.randbytes(rng.randint(1, 200))
                context.send_bytes(node, peer, junk)
                context.faults["junk_flood"] += 1


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
