"""SDK methods of the interchain module (light clients, packets), sync and async.

`InterchainMixin` (mixed into `bftx.client.Client`) and `AsyncInterchainMixin`
(into `AsyncClient`) add, with the same names (docs/interchain.md):

- ``ibc_create_client(counterparty_genesis, trusting_period_ms)`` -> ``{"id", "status", "info"}``
- ``ibc_update_client(client_id, light_block)``, ``ibc_submit_misbehaviour(client_id, lb1, lb2)``,
  ``ibc_recover_client(client_id, substitute_client_id)`` (an expired client)
- ``ibc_transfer(asset, amount, receiver, client_id, counterparty_client_id, timeout_ms)``
  -> ``{"packet", "sequence", "status", "info"}``
- ``ibc_receive(packet, proof)``, ``ibc_acknowledge(packet, ack, proof)``, ``ibc_timeout(packet,
  proof)``: ``proof`` is a proof bundle (``fetch_proof`` on the other chain)
- ``fetch_ibc_client(client_id)``, ``fetch_ibc_clients()``,
  ``fetch_ibc_packets(client_id=None, kind="commitment")``

A light block is the document of ``GET /v1/light-blocks/{height}``
(``fetch_light_block``); a packet is the document the chain serves
(``fetch_ibc_packets``, or ``ibc_transfer``'s result). Txs wait for finality
by default and raise `OrderRejected` (``.code``, e.g. ``packet_already_received``)
when refused; ``params={"wait": False}`` returns at once with ``"status": "pending"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bftx import limits
from bftx.chain import Genesis
from bftx.client import core
from bftx.client.contracts import load_genesis, to_address, to_units
from bftx.client.errors import ClientError, InvalidOrder, OrderRejected
from bftx.errors import DecodeError
from bftx.exchange.interchain import ack_from_document, packet_from_document
from bftx.exchange.keys import is_client_id
from bftx.exchange.transactions import (
    Body,
    IbcAcknowledge,
    IbcCreateClient,
    IbcMisbehaviour,
    IbcReceive,
    IbcRecoverClient,
    IbcTimeout,
    IbcTransfer,
    IbcUpdateClient,
)

if TYPE_CHECKING:
    from bftx.crypto import KeyPair

Number = core.Number
GenesisSource = Genesis | str | Path | Mapping[str, Any]
_KINDS = ("commitment", "receipt", "ack")


def create_client_body(genesis: GenesisSource, trusting_period_ms: int) -> IbcCreateClient:
    found = load_genesis(dict(genesis) if isinstance(genesis, Mapping) else genesis)
    return IbcCreateClient(
        found.chain_id,
        tuple(validator.public_key for validator in found.validators),
        core.whole_number(trusting_period_ms, "trusting_period_ms", 0, limits.timestamp_ms_max),
    )


def light_block_bytes(light_block: Mapping[str, Any], what: str) -> tuple[bytes, bytes]:
    """(header, certificate) bytes of a light block document."""
    try:
        return (
            bytes.fromhex(str(light_block["header"]).removeprefix("0x")),
            bytes.fromhex(str(light_block["certificate"]).removeprefix("0x")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidOrder(f"{what}: expected a light block with hex header and certificate") from (
            error
        )


def packet_bytes(packet: Mapping[str, Any]) -> bytes:
    try:
        return packet_from_document(packet).encode()
    except DecodeError as error:
        raise InvalidOrder(f"not a packet document: {error}") from error


def proof_bytes(bundle: Mapping[str, Any]) -> bytes:
    try:
        return bytes.fromhex(str(bundle["proof"]).removeprefix("0x"))
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidOrder("expected a proof bundle (GET /v1/proofs) with a hex proof") from error


def ack_bytes(ack: Mapping[str, Any]) -> bytes:
    try:
        return ack_from_document(ack)
    except DecodeError as error:
        raise InvalidOrder(f"not an ack document: {error}") from error


def client_id_of(text: str, what: str = "client_id") -> str:
    """``text`` if it is a client id (``client-<n>``); `InvalidOrder` otherwise."""
    if not isinstance(text, str) or not is_client_id(text):
        raise InvalidOrder(f"{what} {text!r}: expected client-<n>")
    return text


RelayBody = IbcUpdateClient | IbcReceive | IbcAcknowledge | IbcTimeout  # what a relayer signs


def update_body(client_id: str, light_block: Mapping[str, Any]) -> IbcUpdateClient:
    """The body of ``ibc_update_client`` (to sign and batch yourself, as the relayer does)."""
    return IbcUpdateClient(client_id_of(client_id), *light_block_bytes(light_block, "light_block"))


def receive_body(packet: Mapping[str, Any], proof: Mapping[str, Any]) -> IbcReceive:
    return IbcReceive(packet_bytes(packet), proof_bytes(proof))


def acknowledge_body(
    packet: Mapping[str, Any], ack: Mapping[str, Any], proof: Mapping[str, Any]
) -> IbcAcknowledge:
    return IbcAcknowledge(packet_bytes(packet), ack_bytes(ack), proof_bytes(proof))


def timeout_body(packet: Mapping[str, Any], proof: Mapping[str, Any]) -> IbcTimeout:
    return IbcTimeout(packet_bytes(packet), proof_bytes(proof))


def tx_result(receipt: core.Receipt | str, what: str) -> dict[str, Any]:
    """A tx method's answer: committed with its receipt, or pending (``wait=False``) with the
    tx hash in ``info`` (for `wait_for` or `fetch_tx`)."""
    if isinstance(receipt, str):
        return {"status": "pending", "info": {"tx_hash": receipt}}
    if not receipt.ok:
        raise OrderRejected(f"the {what} was rejected: {receipt.code}", receipt.code)
    return {"status": "committed", "info": core.receipt_info(receipt)}


def event_of(receipt: core.Receipt | str, kind: str) -> dict[str, Any] | None:
    if isinstance(receipt, str):
        return None
    return next((event for event in receipt.events if event.get("kind") == kind), None)


def packet_document(
    sent: dict[str, Any],
    body: IbcTransfer,
    source_chain_id: str,
    destination_chain_id: str,
    decimals: int,
) -> dict[str, Any]:
    """The packet ``ibc_transfer`` committed, rebuilt from its ``ibc_packet_sent`` event."""
    return {
        "source_chain_id": source_chain_id,
        "source_client": body.client_id,
        "destination_chain_id": destination_chain_id,
        "destination_client": body.counterparty_client_id,
        "sequence": int(sent["sequence"]),
        "sender": str(sent["sender"]),
        "receiver": body.receiver.hex(),
        "asset": body.asset,
        "amount_units": str(body.amount),
        "decimals": decimals,
        "timeout_ms": body.timeout_ms,
    }


def packets_query(
    client_id: str | None, kind: str, source_client: str | None, min_sequence: int | None
) -> dict[str, Any]:
    if kind not in _KINDS:
        raise InvalidOrder(f"kind {kind!r}: expected one of {', '.join(_KINDS)}")
    query: dict[str, Any] = {"kind": kind}
    if client_id is not None:
        query["client_id"] = client_id_of(client_id)
    if source_client is not None:
        query["source_client"] = client_id_of(source_client, "source_client")
    if min_sequence is not None:
        query["min_sequence"] = core.whole_number(
            min_sequence, "min_sequence", 0, limits.timestamp_ms_max
        )
    return query


class InterchainMixin:
    if TYPE_CHECKING:
        key: KeyPair | None
        wait: bool
        _asset_decimals: dict[str, int] | None

        def _send(
            self, body: Body, wait: bool, timeout: float | None
        ) -> tuple[int, str, core.Receipt | None]: ...

        def _get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...

        def _chain(self) -> str: ...

    def ibc_create_client(
        self,
        counterparty_genesis: GenesisSource,
        trusting_period_ms: int,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a light client of the chain of ``counterparty_genesis``; its id is ``"id"``."""
        body = create_client_body(counterparty_genesis, trusting_period_ms)
        receipt = self._submit(body, params)
        result = tx_result(receipt, "client creation")
        created = event_of(receipt, "ibc_client_created")
        result["id"] = None if created is None else created["client_id"]
        return result

    def ibc_update_client(
        self, client_id: str, light_block: Mapping[str, Any], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        header, certificate = light_block_bytes(light_block, "light_block")
        body = IbcUpdateClient(client_id_of(client_id), header, certificate)
        return tx_result(self._submit(body, params), "client update")

    def ibc_submit_misbehaviour(
        self,
        client_id: str,
        light_block_1: Mapping[str, Any],
        light_block_2: Mapping[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        first = light_block_bytes(light_block_1, "light_block_1")
        second = light_block_bytes(light_block_2, "light_block_2")
        body = IbcMisbehaviour(client_id_of(client_id), *first, *second)
        return tx_result(self._submit(body, params), "misbehaviour")

    def ibc_transfer(
        self,
        asset: str,
        amount: Number,
        receiver: bytes | str,
        client_id: str,
        counterparty_client_id: str,
        timeout_ms: int,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Send ``amount`` of ``asset`` to ``receiver`` on the chain ``client_id`` tracks."""
        decimals = self._decimals(asset)
        client = self.fetch_ibc_client(client_id_of(client_id))
        body = IbcTransfer(
            asset,
            to_units(amount, decimals),
            to_address(receiver, "receiver"),
            client_id,
            client_id_of(counterparty_client_id, "counterparty_client_id"),
            core.whole_number(timeout_ms, "timeout_ms", 0, limits.timestamp_ms_max),
        )
        receipt = self._submit(body, params)
        result = tx_result(receipt, "transfer")
        sent = event_of(receipt, "ibc_packet_sent")
        result["sequence"] = None if sent is None else int(sent["sequence"])
        result["packet"] = (
            None
            if sent is None
            else packet_document(sent, body, self._chain(), str(client["chain_id"]), decimals)
        )
        return result

    def ibc_receive(
        self,
        packet: Mapping[str, Any],
        proof: Mapping[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = IbcReceive(packet_bytes(packet), proof_bytes(proof))
        return tx_result(self._submit(body, params), "receive")

    def ibc_acknowledge(
        self,
        packet: Mapping[str, Any],
        ack: Mapping[str, Any],
        proof: Mapping[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = IbcAcknowledge(packet_bytes(packet), ack_bytes(ack), proof_bytes(proof))
        return tx_result(self._submit(body, params), "acknowledgement")

    def ibc_timeout(
        self,
        packet: Mapping[str, Any],
        proof: Mapping[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = IbcTimeout(packet_bytes(packet), proof_bytes(proof))
        return tx_result(self._submit(body, params), "timeout")

    def ibc_recover_client(
        self, client_id: str, substitute_client_id: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Bring an expired client back with the newer headers of an active client of the same
        chain and validators (create and update ``substitute_client_id`` first)."""
        body = IbcRecoverClient(
            client_id_of(client_id), client_id_of(substitute_client_id, "substitute_client_id")
        )
        return tx_result(self._submit(body, params), "client recovery")

    def fetch_ibc_client(self, client_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self._get(f"/v1/ibc/clients/{client_id_of(client_id)}")
        return found

    def fetch_ibc_clients(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._get("/v1/ibc/clients")
        return found

    def fetch_ibc_packets(
        self,
        client_id: str | None = None,
        kind: str = "commitment",
        source_client: str | None = None,
        min_sequence: int | None = None,
    ) -> list[dict[str, Any]]:
        """Packets sent and unfinished (``commitment``, ``client_id`` the sending client) or
        received (``receipt``, ``ack``: ``client_id`` the receiving one, ``source_client`` the
        sender's), in sequence order from ``min_sequence``, at most 1,000."""
        query = packets_query(client_id, kind, source_client, min_sequence)
        found: list[dict[str, Any]] = self._get("/v1/ibc/packets", query)
        return found

    def _submit(self, body: Body, params: dict[str, Any] | None) -> core.Receipt | str:
        """The receipt once committed; with ``wait=False``, the tx hash."""
        params = core.options(params)
        if self.key is None:
            raise ClientError("this client has no key: pass key=<KeyPair or key file>", "no_key")
        _nonce, tx_hash, receipt = self._send(
            body, params.get("wait", self.wait), params.get("timeout")
        )
        return tx_hash if receipt is None else receipt

    def _decimals(self, asset: str) -> int:
        """An asset's decimals; vouchers appear at run time, so a miss asks the node again."""
        core.text(asset, "asset")
        if self._asset_decimals is None or asset not in self._asset_decimals:
            assets = self._get("/v1/assets")
            self._asset_decimals = {a["symbol"]: int(a["decimals"]) for a in assets}
        decimals = self._asset_decimals.get(asset)
        if decimals is None:
            raise InvalidOrder(f"unknown asset {asset!r}")
        return decimals


class AsyncInterchainMixin:
    if TYPE_CHECKING:
        key: KeyPair | None
        wait: bool
        _asset_decimals: dict[str, int] | None

        async def _send(
            self, body: Body, wait: bool, timeout: float | None
        ) -> tuple[int, str, core.Receipt | None]: ...

        async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any: ...

        async def _chain(self) -> str: ...

    async def ibc_create_client(
        self,
        counterparty_genesis: GenesisSource,
        trusting_period_ms: int,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = create_client_body(counterparty_genesis, trusting_period_ms)
        receipt = await self._submit(body, params)
        result = tx_result(receipt, "client creation")
        created = event_of(receipt, "ibc_client_created")
        result["id"] = None if created is None else created["client_id"]
        return result

    async def ibc_update_client(
        self, client_id: str, light_block: Mapping[str, Any], params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        header, certificate = light_block_bytes(light_block, "light_block")
        body = IbcUpdateClient(client_id_of(client_id), header, certificate)
        return tx_result(await self._submit(body, params), "client update")

    async def ibc_submit_misbehaviour(
        self,
        client_id: str,
        light_block_1: Mapping[str, Any],
        light_block_2: Mapping[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        first = light_block_bytes(light_block_1, "light_block_1")
        second = light_block_bytes(light_block_2, "light_block_2")
        body = IbcMisbehaviour(client_id_of(client_id), *first, *second)
        return tx_result(await self._submit(body, params), "misbehaviour")

    async def ibc_transfer(
        self,
        asset: str,
        amount: Number,
        receiver: bytes | str,
        client_id: str,
        counterparty_client_id: str,
        timeout_ms: int,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        decimals = await self._decimals(asset)
        client = await self.fetch_ibc_client(client_id_of(client_id))
        body = IbcTransfer(
            asset,
            to_units(amount, decimals),
            to_address(receiver, "receiver"),
            client_id,
            client_id_of(counterparty_client_id, "counterparty_client_id"),
            core.whole_number(timeout_ms, "timeout_ms", 0, limits.timestamp_ms_max),
        )
        receipt = await self._submit(body, params)
        result = tx_result(receipt, "transfer")
        sent = event_of(receipt, "ibc_packet_sent")
        result["sequence"] = None if sent is None else int(sent["sequence"])
        result["packet"] = (
            None
            if sent is None
            else packet_document(sent, body, await self._chain(), str(client["chain_id"]), decimals)
        )
        return result

    async def ibc_receive(
        self,
        packet: Mapping[str, Any],
        proof: Mapping[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = IbcReceive(packet_bytes(packet), proof_bytes(proof))
        return tx_result(await self._submit(body, params), "receive")

    async def ibc_acknowledge(
        self,
        packet: Mapping[str, Any],
        ack: Mapping[str, Any],
        proof: Mapping[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = IbcAcknowledge(packet_bytes(packet), ack_bytes(ack), proof_bytes(proof))
        return tx_result(await self._submit(body, params), "acknowledgement")

    async def ibc_timeout(
        self,
        packet: Mapping[str, Any],
        proof: Mapping[str, Any],
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = IbcTimeout(packet_bytes(packet), proof_bytes(proof))
        return tx_result(await self._submit(body, params), "timeout")

    async def ibc_recover_client(
        self, client_id: str, substitute_client_id: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = IbcRecoverClient(
            client_id_of(client_id), client_id_of(substitute_client_id, "substitute_client_id")
        )
        return tx_result(await self._submit(body, params), "client recovery")

    async def fetch_ibc_client(self, client_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._get(f"/v1/ibc/clients/{client_id_of(client_id)}")
        return found

    async def fetch_ibc_clients(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._get("/v1/ibc/clients")
        return found

    async def fetch_ibc_packets(
        self,
        client_id: str | None = None,
        kind: str = "commitment",
        source_client: str | None = None,
        min_sequence: int | None = None,
    ) -> list[dict[str, Any]]:
        query = packets_query(client_id, kind, source_client, min_sequence)
        found: list[dict[str, Any]] = await self._get("/v1/ibc/packets", query)
        return found

    async def _submit(self, body: Body, params: dict[str, Any] | None) -> core.Receipt | str:
        """The receipt once committed; with ``wait=False``, the tx hash."""
        params = core.options(params)
        if self.key is None:
            raise ClientError("this client has no key: pass key=<KeyPair or key file>", "no_key")
        _nonce, tx_hash, receipt = await self._send(
            body, params.get("wait", self.wait), params.get("timeout")
        )
        return tx_hash if receipt is None else receipt

    async def _decimals(self, asset: str) -> int:
        core.text(asset, "asset")
        if self._asset_decimals is None or asset not in self._asset_decimals:
            assets = await self._get("/v1/assets")
            self._asset_decimals = {a["symbol"]: int(a["decimals"]) for a in assets}
        decimals = self._asset_decimals.get(asset)
        if decimals is None:
            raise InvalidOrder(f"unknown asset {asset!r}")
        return decimals
