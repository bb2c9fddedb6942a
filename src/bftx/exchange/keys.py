"""The state root's keys of the ledger, markets and contracts (what `GET /v1/proofs` takes).

Each module's entries start with its own tag byte: ``a`` accounts, ``o`` open
orders, ``s`` supplies, ``c`` contracts, ``g`` the global counters; the
interchain module's keys (tag ``i``) live in `bftx.exchange.interchain`.
"""

from __future__ import annotations

import re

from bftx import crypto


def account_key(address: bytes) -> bytes:
    return b"a" + address


def order_key(owner: bytes, nonce: int) -> bytes:
    return b"o" + owner + nonce.to_bytes(8, "big")


def supply_key(symbol: str) -> bytes:
    return b"s" + symbol.encode()


def contract_key(contract_id: bytes) -> bytes:
    """An HTLC or a deal (both kinds share one id space)."""
    return b"c" + contract_id


COUNTERS_KEY = b"g"


CLIENT_ID_PATTERN = re.compile(r"client-(0|[1-9][0-9]{0,8})")
# A height or sequence in a text key: ASCII digits (str.isdigit() also admits "²", which int()
# refuses), at most 18 of them so it fits the key's 8 bytes.
_NUMBER_PATTERN = re.compile(r"[0-9]{1,18}")


# --- the interchain module (`bftx.exchange.interchain`) ---------------------------------


def client_key(client_id: str) -> bytes:
    return b"il" + client_id.encode()


def consensus_key(client_id: str, height: int) -> bytes:
    return b"ih" + client_id.encode() + b"\x00" + height.to_bytes(8, "big")


def commitment_key(source_client: str, sequence: int) -> bytes:
    return b"ic" + source_client.encode() + b"\x00" + sequence.to_bytes(8, "big")


def receipt_key(destination_client: str, source_client: str, sequence: int) -> bytes:
    return _route_key(b"ir", destination_client, source_client, sequence)


def ack_key(destination_client: str, source_client: str, sequence: int) -> bytes:
    return _route_key(b"ia", destination_client, source_client, sequence)


def escrow_key(client_id: str, counterparty: str, asset: str) -> bytes:
    return b"ie" + crypto.sha256(f"{client_id}\x00{counterparty}\x00{asset}".encode())


def voucher_key(symbol: str) -> bytes:
    return b"iv" + symbol.encode()


NEXT_CLIENT_KEY = b"in"


def _route_key(tag: bytes, destination: str, source: str, sequence: int) -> bytes:
    return (
        tag
        + destination.encode()
        + b"\x00"
        + source.encode()
        + b"\x00"
        + sequence.to_bytes(8, "big")
    )


def commitment_key_text(source_client: str, sequence: int) -> str:
    return f"ibc-commitment:{source_client}:{sequence}"


def receipt_key_text(destination_client: str, source_client: str, sequence: int) -> str:
    return f"ibc-receipt:{destination_client}:{source_client}:{sequence}"


def ack_key_text(destination_client: str, source_client: str, sequence: int) -> str:
    return f"ibc-ack:{destination_client}:{source_client}:{sequence}"


def parse_interchain_key(kind: str, rest: str) -> bytes | None:
    """The state key of an ``ibc-*`` text key (`bftx.exchange.proofs.parse_key`); None if not.

    ``ibc-client:<client>``, ``ibc-consensus:<client>:<height>``,
    ``ibc-commitment:<source client>:<sequence>``,
    ``ibc-receipt:<destination client>:<source client>:<sequence>``,
    ``ibc-ack:<destination client>:<source client>:<sequence>``."""
    parts = rest.split(":")
    if kind == "ibc-client":
        return client_key(parts[0]) if len(parts) == 1 and is_client_id(parts[0]) else None
    clients, number = parts[:-1], _number(parts[-1])
    if number is None or not all(is_client_id(part) for part in clients):
        return None
    if kind == "ibc-commitment" and len(clients) == 1:
        return commitment_key(clients[0], number)
    if kind == "ibc-consensus" and len(clients) == 1:
        return consensus_key(clients[0], number)
    if kind == "ibc-receipt" and len(clients) == 2:
        return receipt_key(clients[0], clients[1], number)
    if kind == "ibc-ack" and len(clients) == 2:
        return ack_key(clients[0], clients[1], number)
    return None


def _number(text: str) -> int | None:
    return int(text) if _NUMBER_PATTERN.fullmatch(text) else None


def is_client_id(text: str) -> bool:
    return CLIENT_ID_PATTERN.fullmatch(text) is not None
