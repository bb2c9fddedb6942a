"""``bftx bench --scenario interchain``: cross-chain transfers relayed end to end.

Starts two local 4-validator networks joined by light clients (`bftx.node.interchain`)
and one relayer process, signs ``transfers`` token transfers from many accounts
on chain A towards chain B before the clock starts, submits them as one burst
(one batch request per sender, spread over A's validators: no transfer waits
for another) and follows chain B's packet receipts until every transfer was credited
there or the drain time ran out. Each transfer carries a distinct amount, so a
receipt names the transfer it completes.

Reports: ``transfers`` (credited), ``transfers_per_s`` (credited over the time
from the first submission to the last credit), ``latency_ms_p50`` /
``latency_ms_p99`` (from submitting ``transfer_out`` on A to the receipt, and the
voucher it credits, being committed on B; resolution: the follow interval),
``lost`` (accepted on A, never credited on B) and ``duplicated`` (credited twice:
receipts beyond one per packet, or vouchers beyond the amounts sent).

Must never: leave processes behind, or count a transfer as credited before a
node of B listed its receipt.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from bftx import codec, limits
from bftx.client import AsyncClient
from bftx.crypto import load_key
from bftx.errors import ConfigError
from bftx.exchange.transactions import IbcTransfer, sign_tx

AMOUNT_BASE_SATS = 10_000  # transfer i sends AMOUNT_BASE_SATS + i sats: distinct amounts
BTC_DECIMALS = 8
FOLLOW_INTERVAL_S = 0.1  # asks only for receipts past the lowest sequence not seen yet
STALL_S = 30.0  # no new credit for this long after the load: the rest is lost
RETRIED_CODES = ("overloaded", "mempool_full")  # a node shedding load: sent again
RETRY_INTERVAL_S = 0.2
TIMEOUT_MS = 600_000  # each packet's timeout on B: far beyond the run


@dataclass(frozen=True, slots=True)
class InterchainSettings:
    transfers: int = 1_000
    senders: int = 20  # accounts on A submitting at once, each in nonce order
    drain_s: float = 300.0  # after the load: wait this long at most for credits (and stall_s)

    def __post_init__(self) -> None:
        if self.transfers < 1 or self.senders < 1 or self.drain_s <= 0:
            raise ConfigError("transfers, senders and drain time must be positive")
        if self.transfers > self.senders * limits.nonce_ahead_max:
            raise ConfigError(
                f"at most {self.senders * limits.nonce_ahead_max} transfers from "
                f"{self.senders} senders (each admits {limits.nonce_ahead_max} nonces ahead)"
            )


def run_interchain_bench(
    settings: InterchainSettings, keep: bool = False, directory: Path | None = None
) -> dict[str, Any]:
    from bftx.node.interchain import interchain

    with interchain(directory, traders=settings.senders, keep=keep) as network:
        network.start_relayer()
        return asyncio.run(_measure(network, settings))


async def _measure(network: Any, settings: InterchainSettings) -> dict[str, Any]:
    a, b = network.a, network.b
    receiver = AsyncClient(b.urls[0], key=b.key("bob"))
    follower = AsyncClient(b.urls[-1])
    http = httpx.AsyncClient(timeout=30.0)
    try:
        b_time_ms = int((await follower.fetch_light_block(await _height(follower)))["timestamp_ms"])
        batches = await _sign_transfers(
            a, settings, bytes.fromhex(receiver.address), b_time_ms + TIMEOUT_MS, b.client_id
        )
        submitted: dict[int, float] = {}
        refused: Counter[str] = Counter()
        started = time.monotonic()

        async def send(node: int, batch: list[tuple[int, bytes]]) -> None:
            """One sender's batch; what a node sheds for load is sent again, like a client."""
            first_sent: dict[int, float] = {}
            while batch:
                sent_at = time.monotonic()
                for index, _tx in batch:
                    first_sent.setdefault(index, sent_at)
                response = await http.post(
                    f"{a.urls[node % len(a.urls)]}/v1/txs/batch",
                    content=codec.encode(tuple(tx for _index, tx in batch)),
                    headers={"content-type": "application/octet-stream"},
                )
                if response.status_code == 429:
                    results = [{"accepted": False, "code": "overloaded"}] * len(batch)
                elif response.status_code != 200:
                    refused[f"http_{response.status_code}"] += len(batch)
                    return
                else:
                    results = response.json()["results"]
                retry = []
                for (index, tx), result in zip(batch, results, strict=True):
                    if result["accepted"]:
                        submitted[index] = first_sent[index]
                    elif result["code"] in RETRIED_CODES:
                        retry.append((index, tx))
                    else:
                        refused[str(result["code"])] += 1
                batch = retry
                if batch:
                    await asyncio.sleep(RETRY_INTERVAL_S)

        load = asyncio.gather(*(send(node, batch) for node, batch in enumerate(batches)))
        credited, duplicated_receipts = await _follow(
            follower, (b.client_id, a.client_id), submitted, load, settings
        )
        load_s = max(submitted.values(), default=started) - started
        # Every credit of the voucher writes a receipt in the same tx: the balance read first
        # can hold no more than the receipts listed after it, unless something paid twice.
        voucher = f"{b.client_id}/BTC"
        balance = Decimal((await receiver.fetch_balance())["total"].get(voucher, "0"))
        receipts = await _receipts(follower, b.client_id)
        expected = sum((Decimal(item["amount"]) for item in receipts), Decimal(0))
        excess = balance - expected
        latencies = sorted(1000 * (credited[index] - submitted[index]) for index in credited)
        last_credit = max(credited.values(), default=started)
        return {
            "scenario": "interchain",
            "transfers": len(credited),
            "submitted": len(submitted),
            "refused": dict(refused),
            "transfers_per_s": round(len(credited) / max(last_credit - started, 1e-9), 1),
            "latency_ms_p50": round(_percentile(latencies, 0.50), 1),
            "latency_ms_p99": round(_percentile(latencies, 0.99), 1),
            "lost": len(submitted) - len(credited),
            "duplicated": duplicated_receipts + (1 if excess > 0 else 0),
            "voucher_excess": str(excess),
            "load_s": round(load_s, 2),
            "validators_per_chain": len(a.urls),
            "relayers": 1,
            "follow_interval_ms": int(FOLLOW_INTERVAL_S * 1000),
        }
    finally:
        await http.aclose()
        for client in (receiver, follower):
            await client.close()


async def _sign_transfers(
    a: Any, settings: InterchainSettings, receiver: bytes, timeout_ms: int, counterparty: str
) -> list[list[tuple[int, bytes]]]:
    """Every transfer signed before the clock starts, in one batch per sender (nonce order)."""
    batches: list[list[tuple[int, bytes]]] = []
    async with AsyncClient(a.urls[0]) as reader:
        for sender in range(settings.senders):
            key = load_key(a.key(f"trader{sender:03d}"))
            account = await reader._get(f"/v1/accounts/{key.address.hex()}")
            nonce = int(account["nonce"])
            batch = []
            for index in range(sender, settings.transfers, settings.senders):
                body = IbcTransfer(
                    "BTC",
                    AMOUNT_BASE_SATS + index,
                    receiver,
                    a.client_id,
                    counterparty,
                    timeout_ms,
                )
                batch.append((index, sign_tx(key, a.chain_id, nonce, body)))
                nonce += 1
            batches.append(batch)
    return batches


async def _follow(
    follower: AsyncClient,
    path: tuple[str, str],
    submitted: dict[int, float],
    load: asyncio.Future[Any],
    settings: InterchainSettings,
) -> tuple[dict[int, float], int]:
    """Poll B's receipts of packets from A (only those past the lowest sequence not seen yet)
    until every submitted transfer is credited, or credits stall or the drain ends. The
    transfers credited with when each was first seen, and how many were credited twice."""
    destination_client, source_client = path
    credited: dict[int, float] = {}
    sequence_of: dict[int, int] = {}
    duplicated = 0
    seen: set[int] = set()
    floor = 1
    load_done: float | None = None
    last_progress = time.monotonic()
    while True:
        receipts = await follower.fetch_ibc_packets(
            client_id=destination_client,
            kind="receipt",
            source_client=source_client,
            min_sequence=floor,
        )
        now = time.monotonic()
        for item in receipts:
            sequence = int(item["sequence"])
            index = _transfer_index(item["packet"])
            if sequence in seen or index is None:
                continue
            seen.add(sequence)
            last_progress = now
            if index in credited and sequence_of[index] != sequence:
                duplicated += 1  # one transfer credited by two packets
                continue
            credited[index] = now
            sequence_of[index] = sequence
        while floor in seen:
            floor += 1
        if load.done():
            load.result()  # a crash in the load generator surfaces here
            load_done = load_done or now
            finished = all(index in credited for index in submitted)
            stalled = now - last_progress > STALL_S
            if finished or stalled or now - load_done > settings.drain_s:
                return credited, duplicated
        await asyncio.sleep(FOLLOW_INTERVAL_S)


def _transfer_index(packet: dict[str, Any]) -> int | None:
    index = int(packet["amount_units"]) - AMOUNT_BASE_SATS
    return index if index >= 0 else None


async def _receipts(reader: AsyncClient, client_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await reader.fetch_ibc_packets(
        client_id=client_id, kind="receipt"
    )
    return found


async def _height(reader: AsyncClient) -> int:
    return int((await reader.fetch_status())["height"])


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(fraction * len(values)))]
