"""The error hierarchy and the stable rejection codes.

Two kinds of failure exist in bftx. *Rejections* are expected: a tx with a bad
nonce, an order below the minimum size. They are values (`Code`), recorded in
block results and returned by the APIs, never raised inside the cores.
*Errors* are exceptions: bad bytes at the edge (`DecodeError`), bad
configuration (`ConfigError`), a store that cannot be trusted. A broken
internal invariant is neither: it is an ``assert`` that stops the replica.

The numeric values of `Code` are part of the protocol (they are hashed into
block results) and of the public API: never renumber, only append.
"""

from __future__ import annotations

import enum


class BftxError(Exception):
    """Base of every exception bftx raises on purpose."""


class DecodeError(BftxError, ValueError):
    """Bytes that are not a canonical, well-formed, bounded encoding of the expected shape."""


class ConfigError(BftxError, ValueError):
    """A genesis, key file or configuration that cannot be used, with the reason."""


class Code(enum.IntEnum):
    """Result of admitting or executing one transaction. 0 is success."""

    OK = 0
    MALFORMED = 1
    WRONG_CHAIN = 2
    BAD_SIGNATURE = 3
    NOT_REGISTERED = 4
    NONCE_USED = 5
    NONCE_GAP = 6
    INSUFFICIENT_FUNDS = 7
    UNKNOWN_ASSET = 8
    UNKNOWN_MARKET = 9
    INVALID_PRICE = 10
    INVALID_QUANTITY = 11
    BELOW_MIN_SIZE = 12
    POST_ONLY_WOULD_CROSS = 13
    FOK_UNFILLED = 14
    TOO_MANY_ORDERS = 15
    UNKNOWN_ORDER = 16
    NOT_ISSUER = 17
    NOT_REGISTRAR = 18
    ALREADY_REGISTERED = 19
    RECIPIENT_NOT_REGISTERED = 20
    INVALID_AMOUNT = 21
    SUPPLY_OVERFLOW = 22
    INVALID_RECIPIENT = 23
    ORDER_EXPIRED = 24
    DUPLICATE_TX = 25
    MEMPOOL_FULL = 26
    INVALID_ORDER_TYPE = 27
    UNKNOWN_CONTRACT = 28
    INVALID_EXPIRY = 29
    INVALID_PREIMAGE = 30
    WRONG_PREIMAGE = 31
    CONTRACT_EXPIRED = 32
    CONTRACT_NOT_EXPIRED = 33
    CONTRACT_CLOSED = 34
    NOT_CONTRACT_PARTY = 35
    LEG_ALREADY_FUNDED = 36
    OTHER_LEG_FUNDED = 37
    TOO_MANY_CONTRACTS = 38
    UNKNOWN_CLIENT = 39
    CLIENT_FROZEN = 40
    CLIENT_EXPIRED = 41
    INVALID_CLIENT = 42
    INVALID_LIGHT_BLOCK = 43
    INVALID_MISBEHAVIOUR = 44
    INVALID_PACKET = 45
    INVALID_PROOF = 46
    UNKNOWN_PROOF_HEIGHT = 47
    PACKET_ALREADY_RECEIVED = 48
    UNKNOWN_PACKET = 49
    PACKET_TIMED_OUT = 50
    TIMEOUT_NOT_REACHED = 51
    INVALID_TIMEOUT = 52
    TOO_MANY_CLIENTS = 53
    CLIENT_NOT_RECOVERABLE = 54
    NONCE_PENDING = 55  # (mempool) another tx of the account holds this nonce

    @property
    def slug(self) -> str:
        """The stable lower-case name used in APIs and logs (``insufficient_funds``)."""
        return self.name.lower()


CODE_DESCRIPTIONS: dict[Code, str] = {
    Code.OK: "accepted",
    Code.MALFORMED: "the transaction bytes are not a valid canonical encoding",
    Code.WRONG_CHAIN: "the transaction is signed for another chain id",
    Code.BAD_SIGNATURE: "the signature does not verify against the sender's public key",
    Code.NOT_REGISTERED: "the sender is not a registered account (permissioned mode)",
    Code.NONCE_USED: "the nonce is lower than the account's next nonce (already used)",
    Code.NONCE_GAP: "the nonce is too far ahead of the account's next nonce",
    Code.INSUFFICIENT_FUNDS: "the available balance does not cover what the transaction could spend",
    Code.UNKNOWN_ASSET: "no such asset in genesis",
    Code.UNKNOWN_MARKET: "no such market in genesis",
    Code.INVALID_PRICE: "price must be a whole number of ticks within the market's bounds",
    Code.INVALID_QUANTITY: "quantity must be a whole number of lots within bounds",
    Code.BELOW_MIN_SIZE: "quantity is below the market's minimum size",
    Code.POST_ONLY_WOULD_CROSS: "a post-only order would have taken liquidity",
    Code.FOK_UNFILLED: "a fill-or-kill order could not be filled completely at once",
    Code.TOO_MANY_ORDERS: "the account has the maximum number of open orders",
    Code.UNKNOWN_ORDER: "no open order of this account with that id",
    Code.NOT_ISSUER: "only the asset's issuer may mint it",
    Code.NOT_REGISTRAR: "only a registrar may register accounts",
    Code.ALREADY_REGISTERED: "the account is already registered",
    Code.RECIPIENT_NOT_REGISTERED: "the recipient is not a registered account (permissioned mode)",
    Code.INVALID_AMOUNT: "amount must be positive and within bounds",
    Code.SUPPLY_OVERFLOW: "minting would exceed the asset's maximum supply",
    Code.INVALID_RECIPIENT: "the recipient is not a valid account address or is the sender",
    Code.ORDER_EXPIRED: "the order's expiry is not after the block time",
    Code.DUPLICATE_TX: "the transaction is already known",
    Code.MEMPOOL_FULL: "the mempool is full; retry later",
    Code.INVALID_ORDER_TYPE: "unknown order side or type, or a field that type does not allow",
    Code.UNKNOWN_CONTRACT: "no HTLC or deal with that id",
    Code.INVALID_EXPIRY: "the expiry or deadline is not after the block time or beyond the horizon",
    Code.INVALID_PREIMAGE: "an HTLC preimage must be exactly 32 bytes",
    Code.WRONG_PREIMAGE: "the preimage's SHA-256 is not the contract's hashlock",
    Code.CONTRACT_EXPIRED: "the contract's expiry or deadline has passed",
    Code.CONTRACT_NOT_EXPIRED: "an HTLC can be refunded only from its expiry on",
    Code.CONTRACT_CLOSED: "the contract was already claimed, refunded, settled or cancelled",
    Code.NOT_CONTRACT_PARTY: "only the contract's sender or a deal's parties may do this",
    Code.LEG_ALREADY_FUNDED: "the sender's leg of the deal is already funded",
    Code.OTHER_LEG_FUNDED: "a deal cannot be cancelled once the other leg is funded",
    Code.TOO_MANY_CONTRACTS: "the account has the maximum number of open contracts",
    Code.UNKNOWN_CLIENT: "no light client with that id on this chain",
    Code.CLIENT_FROZEN: "the light client is frozen (its chain signed two headers at one height)",
    Code.CLIENT_EXPIRED: "the light client's trusting period ran out since its latest header",
    Code.INVALID_CLIENT: "a client needs another chain's id, 1 to 64 distinct validator keys "
    "and a trusting period within bounds",
    Code.INVALID_LIGHT_BLOCK: "the light block does not decode, is not certified by 2f+1 of the "
    "client's validators, or its time is outside the trusting period",
    Code.INVALID_MISBEHAVIOUR: "misbehaviour needs two valid light blocks of one height with "
    "different headers",
    Code.INVALID_PACKET: "the packet does not decode or does not fit this chain and client",
    Code.INVALID_PROOF: "the proof does not decode, is for another key or value, or does not "
    "lead to the client's state root at its height",
    Code.UNKNOWN_PROOF_HEIGHT: "the client holds no header certifying the proof's height "
    "(update it with the light block at proof height + 4 first)",
    Code.PACKET_ALREADY_RECEIVED: "this packet was already received here",
    Code.UNKNOWN_PACKET: "no pending packet with that sequence (never sent, or already "
    "acknowledged or timed out)",
    Code.PACKET_TIMED_OUT: "the packet's timeout passed on this chain: it can only be timed out",
    Code.TIMEOUT_NOT_REACHED: "the destination's certified time has not reached the packet's "
    "timeout",
    Code.INVALID_TIMEOUT: "the timeout must be after the destination's latest known time and "
    "within the horizon",
    Code.TOO_MANY_CLIENTS: "this chain holds the maximum number of light clients",
    Code.CLIENT_NOT_RECOVERABLE: "only an expired client can be recovered, from an active client "
    "of the same chain and validators with a newer header",
    Code.NONCE_PENDING: "another tx with this nonce is pending; wait for it to commit (its nonce "
    "is then used) or sign this one with a later nonce",
}

assert set(CODE_DESCRIPTIONS) == set(Code), "every code needs a description"
