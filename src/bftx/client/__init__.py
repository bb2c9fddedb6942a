"""The Python SDK: trade on a bftx network from a script or a notebook (docs/sdk.md).

Method names follow CCXT (`create_order`, `cancel_order`, `fetch_order_book`,
`fetch_balance`, `watch_order_book`, ...). Amounts and prices are decimal
strings (or `Decimal`) at this edge; the SDK converts them to the market's
lots and ticks and refuses values off the grid or out of range before it
signs. It signs with your Ed25519 key, keeps your nonces, and can wait for
finality::

    from bftx.client import Client
    with Client("http://127.0.0.1:8700", key="testnet/accounts/alice.json") as exchange:
        order = exchange.create_order("BTC/USD", "limit", "buy", "1.5", "45000")
        print(order["status"], order["info"]["height"], order["info"]["latency_s"])

Every exception it raises on purpose is a `ClientError`.

Contracts and proofs (`bftx.client.contracts`): ``htlc_lock``, ``htlc_claim``,
``htlc_refund``, ``fetch_htlc``, ``deal_propose``, ``deal_fund``, ``deal_cancel``,
``fetch_deal``, ``fetch_light_block``, ``fetch_proof`` and the offline
``verify_proof`` (`bftx.client.verify`).
"""

from bftx.client.asynchronous import AsyncClient
from bftx.client.core import Receipt
from bftx.client.errors import (
    ClientError,
    InvalidArgument,
    InvalidOrder,
    KeyFileError,
    NetworkError,
    OrderRejected,
    TimedOut,
)
from bftx.client.keys import account_key_file, load_key_file, url_from_testnet
from bftx.client.sync import Client
from bftx.client.verify import ProofInvalid, VerifiedEntry, verify_bundle

__all__ = [
    "AsyncClient",
    "Client",
    "ClientError",
    "InvalidArgument",
    "InvalidOrder",
    "KeyFileError",
    "NetworkError",
    "OrderRejected",
    "ProofInvalid",
    "Receipt",
    "TimedOut",
    "VerifiedEntry",
    "account_key_file",
    "load_key_file",
    "url_from_testnet",
    "verify_bundle",
]
