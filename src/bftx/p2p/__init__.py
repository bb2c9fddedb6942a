"""P2P transport between validators: mutually authenticated TLS 1.3, frames, peers, gossip.

Owns the links between the nodes of the pinned validator set (genesis) and
nothing above them: payloads are opaque bytes tagged with a channel number.
See ``docs/p2p.md`` for the trust model, the frame format, the limits and the
queue and reconnect policies.

Modules:
- `identity`: certificates carrying the Ed25519 key, PEM files, TLS contexts.
- `framing`: the frame format (sans-IO).
- `network`: the `Network` of links (asyncio, runs under uvloop).
- `gossip`: batching of opaque items per peer, duplicate suppression.

Must never: decode or act on a payload's meaning, import the consensus,
exchange, mempool or store packages, or trust a key outside the pinned set.
"""

from bftx.p2p.framing import CONTROL_CHANNEL, FrameError, decode_body, encode_frame
from bftx.p2p.gossip import GossipBatcher, SeenHashes, decode_batch, encode_batch
from bftx.p2p.identity import (
    Identity,
    Peer,
    certificate_public_key,
    create_certificate,
    load_certificate,
    load_identity,
    save_identity,
)
from bftx.p2p.network import Message, Metrics, Network, NetworkClosed, PeerStatus, Settings

__all__ = [
    "CONTROL_CHANNEL",
    "FrameError",
    "GossipBatcher",
    "Identity",
    "Message",
    "Metrics",
    "Network",
    "NetworkClosed",
    "Peer",
    "PeerStatus",
    "SeenHashes",
    "Settings",
    "certificate_public_key",
    "create_certificate",
    "decode_batch",
    "decode_body",
    "encode_batch",
    "encode_frame",
    "load_certificate",
    "load_identity",
    "save_identity",
]
