"""SDK methods of the contracts module (HTLCs, deals) and of state proofs, sync and async.

`ContractsMixin` (mixed into `bftx.client.Client`) and `AsyncContractsMixin`
(into `AsyncClient`) add:

- ``htlc_lock(asset, amount, receiver, hashlock, expiry_ms)`` -> ``{"id", "status", ...}``
- ``htlc_claim(id, preimage)``, ``htlc_refund(id)``, ``fetch_htlc(id)``
- ``deal_propose(counterparty, deliver_asset, deliver_amount, pay_asset, pay_amount,
  deadline_ms)``, ``deal_fund(id)``, ``deal_cancel(id)``, ``fetch_deal(id)``
- ``fetch_light_block(height)``, ``fetch_proof(key, height=None)``, and the static
  ``verify_proof(bundle, genesis)`` (offline, `bftx.client.verify`).

Amounts are decimal strings (or `Decimal`, int) in the asset's units;
``hashlock`` and ``preimage`` are 32 bytes (``bytes`` or hex). A contract's id
is known before submission: `compute_contract_id(sender, nonce)`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bftx import crypto, limits
from bftx.chain import Genesis
from bftx.client import core
from bftx.client.errors import ClientError, InvalidArgument, InvalidOrder, OrderRejected
from bftx.client.verify import VerifiedEntry, verify_bundle
from bftx.exchange import (
    DealCancel,
    DealFund,
    DealPropose,
    HtlcClaim,
    HtlcLock,
    HtlcRefund,
    compute_contract_id,
)
from bftx.exchange.transactions import Body

if TYPE_CHECKING:
    from bftx.crypto import KeyPair

Number = core.Number


def to_units(amount: Number, decimals: int, what: str = "amount") -> int:
    """A decimal amount in whole units of an asset with ``decimals`` places, as an integer
    from 1 to ``limits.amount_max``; `InvalidOrder` otherwise."""
    if isinstance(amount, bool) or not isinstance(amount, str | int | float | Decimal):
        raise InvalidOrder(f"{what} {core.shown(amount)} is not a decimal number")
    try:
        value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
    except ArithmeticError as error:
        raise InvalidOrder(f"{what} {core.shown(amount)} is not a decimal number") from error
    if not value.is_finite() or value <= 0:
        raise InvalidOrder(f"{what} {amount} must be a positive number")
    units = value.scaleb(decimals)
    if units > limits.amount_max:  # before int(): 1e999999 would be huge
        raise InvalidOrder(
            f"{what} {amount} is out of range: at most {Decimal(limits.amount_max).scaleb(-decimals)}"
        )
    if units != units.to_integral_value():
        raise InvalidOrder(f"{what} {amount} has more than {decimals} decimal places")
    return int(units)


def to_fixed_bytes(
    value: object, what: str, size: int, error: Callable[[str], ClientError]
) -> bytes:
    """``size`` bytes from bytes or hex text (``0x`` optional); ``error`` otherwise."""
    if isinstance(value, str):
        try:
            value = bytes.fromhex(value.removeprefix("0x"))
        except ValueError as failure:
            raise error(f"{what} is not hex") from failure
    if not isinstance(value, bytes | bytearray):
        raise error(f"{what} must be bytes or hex text, got {type(value).__name__}")
    if len(value) != size:
        raise error(f"{what} must be {size} bytes, got {len(value)}")
    return bytes(value)


def to_bytes32(
    value: bytes | str, what: str, error: Callable[[str], ClientError] = InvalidOrder
) -> bytes:
    """32 bytes from bytes or hex text."""
    return to_fixed_bytes(value, what, 32, error)


def to_address(value: bytes | str, what: str) -> bytes:
    return to_fixed_bytes(value, what, crypto.ADDRESS_BYTES, InvalidOrder)


def light_block_height(height: int) -> int:
    """A block height for ``GET /v1/light-blocks``; `InvalidArgument` if it is none."""
    return core.whole_number(height, "height", 1, limits.timestamp_ms_max, InvalidArgument)


def proof_query(key: str, height: int | None) -> dict[str, Any]:
    """The query of ``GET /v1/proofs``; `InvalidArgument` for a key that is not text or a
    height that is not a whole number (the node parses the key)."""
    query: dict[str, Any] = {"key": core.text(key, "key", InvalidArgument)}
    if height is not None:
        query["height"] = core.whole_number(
            height, "height", 0, limits.timestamp_ms_max, InvalidArgument
        )
    return query


def load_genesis(genesis: Genesis | str | Path | dict[str, Any]) -> Genesis:
    if isinstance(genesis, Genesis):
        return genesis
    if isinstance(genesis, dict):
        return Genesis.from_document(genesis)
    return Genesis.load(Path(genesis))


def contract_result(contract_id: bytes, receipt: core.Receipt | None, what: str) -> dict[str, Any]:
    if receipt is not None and not receipt.ok:
        raise OrderRejected(f"the {what} was rejected: {receipt.code}", receipt.code)
    return {
        "id": contract_id.hex(),
        "status": "committed" if receipt else "pending",
        "info": core.receipt_info(receipt) if receipt else {},
    }


class _Builder:
    """Bodies from user input; needs the assets' decimals (``GET /v1/assets``)."""

    def __init__(self, decimals: dict[str, int]) -> None:
        self.decimals = decimals

    def units(self, asset: str, amount: Number) -> int:
        decimals = self.decimals.get(core.text(asset, "asset"))
        if decimals is None:
            raise InvalidOrder(
                f"unknown asset {asset!r}; assets: {', '.join(sorted(self.decimals))}"
            )
        return to_units(amount, decimals)

    def lock(
        self,
        asset: str,
        amount: Number,
        receiver: bytes | str,
        hashlock: bytes | str,
        expiry_ms: int,
    ) -> HtlcLock:
        return HtlcLock(
            asset,
            self.units(asset, amount),
            to_address(receiver, "receiver"),
            to_bytes32(hashlock, "hashlock"),
            core.whole_number(expiry_ms, "expiry_ms", 0, limits.timestamp_ms_max),
        )

    def propose(
        self,
        counterparty: bytes | str,
        deliver_asset: str,
        deliver_amount: Number,
        pay_asset: str,
        pay_amount: Number,
        deadline_ms: int,
    ) -> DealPropose:
        return DealPropose(
            to_address(counterparty, "counterparty"),
            deliver_asset,
            self.units(deliver_asset, deliver_amount),
            pay_asset,
            self.units(pay_asset, pay_amount),
            core.whole_number(deadline_ms, "deadline_ms", 0, limits.timestamp_ms_max),
        )


def claim_body(contract_id: bytes | str, preimage: bytes | str) -> HtlcClaim:
    """The claim of HTLC ``contract_id`` with ``preimage`` (bytes or hex, at most
    ``limits.htlc_preimage_bytes_max`` bytes); `InvalidOrder` otherwise."""
    secret: object = preimage
    if isinstance(preimage, str):
        try:
            secret = bytes.fromhex(preimage.removeprefix("0x"))
        except ValueError as error:
            raise InvalidOrder("preimage is not hex") from error
    if not isinstance(secret, bytes | bytearray):
        raise InvalidOrder(f"preimage must be bytes or hex text, got {type(secret).__name__}")
    if len(secret) > limits.htlc_preimage_bytes_max:
        raise InvalidOrder(
            f"preimage is {len(secret)} bytes: at most {limits.htlc_preimage_bytes_max}"
        )
    return HtlcClaim(to_bytes32(contract_id, "id"), bytes(secret))


class ContractsMixin:
    if TYPE_CHECKING:
        key: KeyPair | None
        wait: bool

        def _send(
            self, body: Body, wait: bool, timeout: float | None
        ) -> tuple[int, str, core.Receipt | None]: ...

        def _get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...

    _asset_decimals: dict[str, int] | None = None

    # --- HTLC ------------------------------------------------------------------

    def htlc_lock(
        self,
        asset: str,
        amount: Number,
        receiver: bytes | str,
        hashlock: bytes | str,
        expiry_ms: int,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Lock ``amount`` for ``receiver`` until ``expiry_ms``; the HTLC's id is in ``"id"``."""
        body = self._builder().lock(asset, amount, receiver, hashlock, expiry_ms)
        return self._create(body, "HTLC lock", params)

    def htlc_claim(
        self, id: bytes | str, preimage: bytes | str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Reveal ``preimage``: the HTLC pays its receiver (whoever submits the claim)."""
        body = claim_body(id, preimage)
        return self._act(body.contract_id, body, "HTLC claim", params)

    def htlc_refund(self, id: bytes | str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        contract_id = to_bytes32(id, "id")
        return self._act(contract_id, HtlcRefund(contract_id), "HTLC refund", params)

    def fetch_htlc(self, id: bytes | str) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/v1/htlcs/{to_bytes32(id, 'id').hex()}")
        return found

    # --- deals -------------------------------------------------------------------

    def deal_propose(
        self,
        counterparty: bytes | str,
        deliver_asset: str,
        deliver_amount: Number,
        pay_asset: str,
        pay_amount: Number,
        deadline_ms: int,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Propose to deliver ``deliver_amount`` to ``counterparty`` against ``pay_amount``."""
        body = self._builder().propose(
            counterparty, deliver_asset, deliver_amount, pay_asset, pay_amount, deadline_ms
        )
        return self._create(body, "deal proposal", params)

    def deal_fund(self, id: bytes | str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        contract_id = to_bytes32(id, "id")
        return self._act(contract_id, DealFund(contract_id), "deal funding", params)

    def deal_cancel(self, id: bytes | str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        contract_id = to_bytes32(id, "id")
        return self._act(contract_id, DealCancel(contract_id), "deal cancel", params)

    def fetch_deal(self, id: bytes | str) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/v1/deals/{to_bytes32(id, 'id').hex()}")
        return found

    # --- proofs --------------------------------------------------------------------

    def fetch_light_block(self, height: int) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/v1/light-blocks/{light_block_height(height)}")
        return found

    def fetch_proof(self, key: str, height: int | None = None) -> dict[str, Any]:
        """A proof bundle of a state entry (``account:<address>``, ``htlc:<id>``, ...)."""
        params = proof_query(key, height)
        found: dict[str, Any] = self._get("/v1/proofs", params)
        return found

    @staticmethod
    def verify_proof(
        bundle: dict[str, Any], genesis: Genesis | str | Path | dict[str, Any]
    ) -> VerifiedEntry:
        """Check a proof bundle offline against the genesis; raises `ProofInvalid`."""
        return verify_bundle(load_genesis(genesis), bundle)

    # --- internals -------------------------------------------------------------------

    def _builder(self) -> _Builder:
        if self._asset_decimals is None:
            assets = self._get("/v1/assets")
            self._asset_decimals = {a["symbol"]: int(a["decimals"]) for a in assets}
        return _Builder(self._asset_decimals)

    def _create(self, body: Body, what: str, params: dict[str, Any] | None) -> dict[str, Any]:
        params = core.options(params)
        if self.key is None:
            raise ClientError("this client has no key: pass key=<KeyPair or key file>", "no_key")
        nonce, _tx_hash, receipt = self._send(
            body, params.get("wait", self.wait), params.get("timeout")
        )
        return contract_result(compute_contract_id(self.key.address, nonce), receipt, what)

    def _act(
        self, contract_id: bytes, body: Body, what: str, params: dict[str, Any] | None
    ) -> dict[str, Any]:
        params = core.options(params)
        _nonce, _tx_hash, receipt = self._send(
            body, params.get("wait", self.wait), params.get("timeout")
        )
        return contract_result(contract_id, receipt, what)


class AsyncContractsMixin:
    if TYPE_CHECKING:
        key: KeyPair | None
        wait: bool

        async def _send(
            self, body: Body, wait: bool, timeout: float | None
        ) -> tuple[int, str, core.Receipt | None]: ...

        async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...

    _asset_decimals: dict[str, int] | None = None

    async def htlc_lock(
        self,
        asset: str,
        amount: Number,
        receiver: bytes | str,
        hashlock: bytes | str,
        expiry_ms: int,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = (await self._builder()).lock(asset, amount, receiver, hashlock, expiry_ms)
        return await self._create(body, "HTLC lock", params)

    async def htlc_claim(
        self, id: bytes | str, preimage: bytes | str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = claim_body(id, preimage)
        return await self._act(body.contract_id, body, "HTLC claim", params)

    async def htlc_refund(
        self, id: bytes | str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        contract_id = to_bytes32(id, "id")
        return await self._act(contract_id, HtlcRefund(contract_id), "HTLC refund", params)

    async def fetch_htlc(self, id: bytes | str) -> dict[str, Any]:
        found: dict[str, Any] = await self._get(f"/v1/htlcs/{to_bytes32(id, 'id').hex()}")
        return found

    async def deal_propose(
        self,
        counterparty: bytes | str,
        deliver_asset: str,
        deliver_amount: Number,
        pay_asset: str,
        pay_amount: Number,
        deadline_ms: int,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = (await self._builder()).propose(
            counterparty, deliver_asset, deliver_amount, pay_asset, pay_amount, deadline_ms
        )
        return await self._create(body, "deal proposal", params)

    async def deal_fund(
        self, id: bytes | str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        contract_id = to_bytes32(id, "id")
        return await self._act(contract_id, DealFund(contract_id), "deal funding", params)

    async def deal_cancel(
        self, id: bytes | str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        contract_id = to_bytes32(id, "id")
        return await self._act(contract_id, DealCancel(contract_id), "deal cancel", params)

    async def fetch_deal(self, id: bytes | str) -> dict[str, Any]:
        found: dict[str, Any] = await self._get(f"/v1/deals/{to_bytes32(id, 'id').hex()}")
        return found

    async def fetch_light_block(self, height: int) -> dict[str, Any]:
        found: dict[str, Any] = await self._get(f"/v1/light-blocks/{light_block_height(height)}")
        return found

    async def fetch_proof(self, key: str, height: int | None = None) -> dict[str, Any]:
        params = proof_query(key, height)
        found: dict[str, Any] = await self._get("/v1/proofs", params)
        return found

    @staticmethod
    def verify_proof(
        bundle: dict[str, Any], genesis: Genesis | str | Path | dict[str, Any]
    ) -> VerifiedEntry:
        return verify_bundle(load_genesis(genesis), bundle)

    async def _builder(self) -> _Builder:
        if self._asset_decimals is None:
            assets = await self._get("/v1/assets")
            self._asset_decimals = {a["symbol"]: int(a["decimals"]) for a in assets}
        return _Builder(self._asset_decimals)

    async def _create(self, body: Body, what: str, params: dict[str, Any] | None) -> dict[str, Any]:
        params = core.options(params)
        if self.key is None:
            raise ClientError("this client has no key: pass key=<KeyPair or key file>", "no_key")
        nonce, _tx_hash, receipt = await self._send(
            body, params.get("wait", self.wait), params.get("timeout")
        )
        return contract_result(compute_contract_id(self.key.address, nonce), receipt, what)

    async def _act(
        self, contract_id: bytes, body: Body, what: str, params: dict[str, Any] | None
    ) -> dict[str, Any]:
        params = core.options(params)
        _nonce, _tx_hash, receipt = await self._send(
            body, params.get("wait", self.wait), params.get("timeout")
        )
        return contract_result(contract_id, receipt, what)
