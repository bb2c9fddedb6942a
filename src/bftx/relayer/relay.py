"""The relay loop: keep both light clients fresh and move packets, acks and timeouts.

The relayer holds no state of its own: every pass reads what is pending from
the chains (packet commitments on the source, receipts and acks on the
destination) and submits what is missing, so a relayer killed at any moment
and started again loses nothing, and two relayers on one path at most
duplicate a submission that the chain answers "already done" (its receipts
make a packet count once). Everything it submits is checked on chain against
the light clients: a relayer can delay a packet, never forge one.

One pass of a direction (source S, destination D):
1. list S's packet commitments towards D and D's acks from S;
2. packets D acknowledged: prove each ack on D, update S's client of D so it
   knows the header certifying that proof, submit ``acknowledge`` on S;
3. packets whose timeout passed on D and not received: prove the receipt's
   absence on D at a height h whose block time is at or after the packet's
   ``timeout_ms``, give S's client D's headers at h (its time) and h + 4 (the
   root certifying the absence), submit ``timeout`` on S;
4. the others: prove each commitment on S at one height h, update D's client
   with S's light block at h + pipeline depth (the header that certifies h),
   submit ``receive`` on D.
All proofs of one step are taken at one height, so one client update serves
the whole batch. A client keeps the headers of many heights and takes one it
holds already as a no-op, so relayers racing on one path never undo each
other's updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bftx.client import AsyncClient, ClientError
from bftx.client.errors import NetworkError, OrderRejected, TimedOut
from bftx.client.interchain import (
    RelayBody,
    acknowledge_body,
    receive_body,
    timeout_body,
    update_body,
)
from bftx.errors import ConfigError
from bftx.relayer.config import REQUESTS_IN_FLIGHT_MAX, TX_TIMEOUT_S, ChainEndpoint, RelayerConfig
from bftx.relayer.metrics import RelayerMetrics
from bftx.relayer.signer import Signer

# Result codes meaning "someone already did this": a second relayer, or our own retry after a
# crash. The chain's receipts make the repeat harmless; the relayer counts it and moves on.
ALREADY_DONE_CODES = frozenset({"packet_already_received", "unknown_packet"})
# The packet's timeout passed on the destination: not an error, the next pass times it out.
TIMED_OUT_CODES = frozenset({"packet_timed_out"})
LIGHT_BLOCK_SEARCH_MAX = 8  # heights stepped back past null blocks to find one that certifies

Report = Callable[[str, dict[str, Any]], None]


class PassAborted(Exception):
    """A pass stopped early (a node unreachable, a proof height no longer kept): retried later."""


@dataclass(slots=True)
class Chain:
    """One end of the path: clients to its nodes and its light client of the other end."""

    name: str
    endpoint: ChainEndpoint
    key_file: str
    chain_id: str = ""
    url_index: int = 0
    client: AsyncClient = field(init=False)
    reader: AsyncClient = field(init=False)
    provers: list[AsyncClient] = field(init=False)  # the reader, then one per other node
    signer: Signer | None = None  # once the chain id is known (`Relayer.check_path`)

    def __post_init__(self) -> None:
        self._open()

    def _open(self) -> None:
        urls = self.endpoint.urls
        url = urls[self.url_index % len(urls)]
        self.client = AsyncClient(url, key=self.key_file, timeout=TX_TIMEOUT_S)
        if self.signer is not None:  # a fail-over: the same key and nonces, another node
            self.signer.client = self.client
        identity = self.endpoint.identity
        self.reader = (
            self.client if identity is None else AsyncClient(url, key=identity, timeout=10.0)
        )
        reads_as = identity or self.key_file
        self.provers = [self.reader] + [
            AsyncClient(other, key=reads_as, timeout=10.0) for other in urls if other != url
        ]

    @property
    def client_id(self) -> str:
        return self.endpoint.client_id

    @property
    def url(self) -> str:
        return self.client.url

    def signing(self) -> Signer:
        if self.signer is None:
            assert self.client.key is not None and self.chain_id
            self.signer = Signer(self.client, self.client.key, self.chain_id)
        return self.signer

    async def fail_over(self) -> None:
        """Use the next node of this chain (after its current one stopped answering)."""
        await self.close()
        self.url_index += 1
        self._open()

    async def close(self) -> None:
        await self.client.close()
        if self.reader is not self.client:
            await self.reader.close()
        for prover in self.provers[1:]:
            await prover.close()

    async def height(self) -> int:
        status = await self.reader.fetch_status()
        return int(status["height"])

    async def latest_light_block(self) -> dict[str, Any]:
        """The newest light block of this chain that commits to a state (skips null blocks)."""
        height = await self.height()
        for candidate in range(height, max(0, height - LIGHT_BLOCK_SEARCH_MAX), -1):
            try:
                return await self.reader.fetch_light_block(candidate)
            except ClientError as error:
                if error.code not in ("null_block", "unknown_block"):
                    raise
        raise PassAborted(f"{self.name}: no light block among its last {LIGHT_BLOCK_SEARCH_MAX}")


@dataclass(frozen=True, slots=True)
class Direction:
    source: Chain
    destination: Chain

    @property
    def label(self) -> str:
        return f"{self.source.name}->{self.destination.name}"


class Relayer:
    """Relays between the two chains of ``config`` until ``stop`` is set (see the module doc)."""

    def __init__(
        self,
        config: RelayerConfig,
        report: Report,
        metrics: RelayerMetrics | None = None,
        names: tuple[str, str] = ("A", "B"),
    ) -> None:
        self.config = config
        self.report = report
        self.metrics = metrics or RelayerMetrics()
        key = str(config.key)
        self.chains = (
            Chain(names[0], config.chains[0], key),
            Chain(names[1], config.chains[1], key),
        )
        self.directions = (
            Direction(self.chains[0], self.chains[1]),
            Direction(self.chains[1], self.chains[0]),
        )
        self.passes = 0
        self.pending: dict[str, int] = {}  # packet commitments left, by direction, last pass
        self.unusable_reported: set[tuple[str, str]] = set()  # said once, not every pass

    async def close(self) -> None:
        for chain in self.chains:
            await chain.close()

    # --- the loop ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Check the path, clear everything pending, then relay on every new block."""
        await self.check_path()
        heights = [-1, -1]
        last_clear = -float("inf")
        poll_s = self.config.poll_interval_ms / 1000
        clear_s = self.config.clear_interval_ms / 1000
        while not stop.is_set():
            now = time.monotonic()
            current = list(heights)
            for index, chain in enumerate(self.chains):
                try:
                    current[index] = await chain.height()
                except ClientError as error:
                    await self._on_error(chain, error)
            if current != heights or now - last_clear >= clear_s:
                full = now - last_clear >= clear_s
                if await self.relay_once(full=full) and full:
                    last_clear = now
                heights = current
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_s)

    async def clear(self, timeout_s: float) -> int:
        """Pass after pass until nothing is pending on either side (a packet becomes provable
        only 4 blocks after it was sent) or ``timeout_s`` ran out; what is left pending."""
        deadline = time.monotonic() + timeout_s
        while True:
            completed = await self.relay_once(full=True)
            left = sum(self.pending.values())
            if (completed and left == 0) or time.monotonic() > deadline:
                return left
            await asyncio.sleep(self.config.poll_interval_ms / 1000)

    async def check_path(self) -> None:
        """Both chains answer, and each end's client tracks the other chain (else ConfigError)."""
        for chain in self.chains:
            for attempt in range(len(chain.endpoint.urls)):
                try:
                    chain.chain_id = str((await chain.reader.fetch_status())["chain_id"])
                    break
                except NetworkError:
                    if attempt + 1 == len(chain.endpoint.urls):
                        raise
                    await chain.fail_over()
        for chain in self.chains:
            account = (await chain.client.fetch_balance())["info"]
            if not account.get("registered", True):
                raise ConfigError(
                    f"chain {chain.chain_id}: the relayer's account {chain.client.address} is "
                    "not registered; a registrar registers it with `bftx account register "
                    f"--url {chain.url} --registrar KEY --address {chain.client.address}`"
                )
        for chain, other in (self.chains, self.chains[::-1]):
            try:
                state = await chain.reader.fetch_ibc_client(chain.client_id)
            except ClientError as error:
                raise ConfigError(
                    f"chain {chain.chain_id} ({chain.url}): no light client {chain.client_id}: "
                    f"{error}"
                ) from error
            if state["chain_id"] != other.chain_id:
                raise ConfigError(
                    f"chain {chain.chain_id}: client {chain.client_id} tracks chain "
                    f"{state['chain_id']}, but the other end of the path is {other.chain_id}"
                )
        self.report(
            "path",
            {
                "chains": [
                    {"chain_id": chain.chain_id, "url": chain.url, "client_id": chain.client_id}
                    for chain in self.chains
                ]
            },
        )

    async def relay_once(self, full: bool = True) -> bool:
        """One pass: refresh both clients, then both directions at once. True when it completed."""
        self.passes += 1
        completed = True
        for chain, other in (self.chains, self.chains[::-1]):
            try:
                await self.refresh_client(chain, other)
            except (ClientError, PassAborted) as error:
                completed = False
                await self._on_error(chain, error)
        results = await asyncio.gather(
            *(self._relay_direction(direction) for direction in self.directions)
        )
        completed = completed and all(results)
        if full:
            self.report("cleared", {"pass": self.passes, "completed": completed})
        return completed

    async def _relay_direction(self, direction: Direction) -> bool:
        started = time.monotonic()
        try:
            await self.relay_direction(direction)
            return True
        except (ClientError, PassAborted) as error:
            await self._on_error(direction.source, error)
            return False
        finally:
            self.metrics.pass_seconds.observe(time.monotonic() - started)

    async def _on_error(self, chain: Chain | None, error: Exception) -> None:
        cause = error.__cause__ if isinstance(error, PassAborted) else error
        if isinstance(cause, NetworkError):  # the chain whose node did not answer
            chain = next((c for c in self.chains if c.url in str(cause)), chain)
        where = chain.name if chain is not None else "-"
        self.metrics.errors.labels(where).inc()
        self.report("error", {"chain": where, "error": str(error)})
        if chain is not None and isinstance(cause, NetworkError) and chain.url in str(cause):
            await chain.fail_over()

    # --- clients -------------------------------------------------------------------------

    async def refresh_client(self, holder: Chain, tracked: Chain) -> None:
        """Update ``holder``'s client of ``tracked`` once a share of its trusting period passed."""
        state = await holder.reader.fetch_ibc_client(holder.client_id)
        self.metrics.client_height.labels(holder.name).set(int(state["latest_height"]))
        if state["status"] != "active":
            if (holder.chain_id, state["status"]) in self.unusable_reported:
                return
            self.unusable_reported.add((holder.chain_id, state["status"]))
            self.report(
                "client_unusable",
                {
                    "chain": holder.chain_id,
                    "client_id": holder.client_id,
                    "status": state["status"],
                    "hint": "see docs/interchain.md: an operator must replace this client",
                },
            )
            return
        light = await tracked.latest_light_block()
        age_ms = int(light["timestamp_ms"]) - int(state["latest_time_ms"])
        if age_ms >= self.config.refresh_fraction * int(state["trusting_period_ms"]):
            await self._update(holder, light, "refresh")

    async def ensure_header(self, holder: Chain, tracked: Chain, height: int) -> RelayBody:
        """Make ``holder``'s client of ``tracked`` hold the header at ``height``; the update's
        body (a no-op from then on: what fills a refused tx's nonce).

        The client keeps the headers of many heights (listed in ``heights``) and takes a
        header it already holds as a no-op, so a race with another relayer is harmless."""
        state = await holder.reader.fetch_ibc_client(holder.client_id)
        light = await tracked.reader.fetch_light_block(height)
        if height not in state.get("heights", ()) and int(state["latest_height"]) != height:
            # Waited for: a node admits a proof only against a header its client holds.
            await self._update(holder, light, "proof")
        return update_body(holder.client_id, light)

    async def _update(self, holder: Chain, light: dict[str, Any], reason: str) -> None:
        [admission] = await holder.signing().submit([update_body(holder.client_id, light)])
        code = admission.code
        if admission.tx_hash is not None:
            try:
                code = (await holder.client.wait_for(admission.tx_hash, TX_TIMEOUT_S)).code
            except OrderRejected as error:
                code = error.code
        if code != "ok":
            self.metrics.refused.labels("update", code).inc()
            raise OrderRejected(f"{holder.chain_id} refused the client update: {code}", code)
        self.metrics.client_updates.labels(holder.name).inc()
        self.report(
            "client_updated",
            {
                "chain": holder.chain_id,
                "client_id": holder.client_id,
                "height": int(light["height"]),
                "reason": reason,
            },
        )

    # --- packets -------------------------------------------------------------------------

    async def relay_direction(self, direction: Direction) -> None:
        source, destination = direction.source, direction.destination
        pending = [
            item
            for item in await source.reader.fetch_ibc_packets(
                client_id=source.client_id, kind="commitment"
            )
            if item["packet"]["destination_client"] == destination.client_id
        ]
        self.metrics.pending.labels(direction.label).set(len(pending))
        self.pending[direction.label] = len(pending)
        if not pending:
            return
        lowest = min(int(item["sequence"]) for item in pending)
        acks = {
            int(item["sequence"]): item
            for item in await destination.reader.fetch_ibc_packets(
                client_id=destination.client_id,
                kind="ack",
                source_client=source.client_id,
                min_sequence=lowest,
            )
        }
        batch = self.config.batch_packets_max
        acknowledged = [
            acks[int(item["sequence"])] for item in pending if int(item["sequence"]) in acks
        ]
        open_items = [item for item in pending if int(item["sequence"]) not in acks]
        steps: list[Awaitable[None]] = []
        if acknowledged:
            steps.append(self.acknowledge(direction, acknowledged[:batch]))
        if open_items:
            destination_light = await destination.latest_light_block()
            destination_time_ms = int(destination_light["timestamp_ms"])
            expired = [
                item for item in open_items if int(item["timeout_ms"]) <= destination_time_ms
            ]
            live = [item for item in open_items if int(item["timeout_ms"]) > destination_time_ms]
            if expired:
                steps.append(self.time_out(direction, expired[:batch]))
            if live:
                steps.append(self.receive(direction, live[:batch]))
        # Acks and timeouts go to the source, receives to the destination: at once.
        for outcome in await asyncio.gather(*steps, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    async def receive(self, direction: Direction, items: list[dict[str, Any]]) -> None:
        source, destination = direction.source, direction.destination
        started = time.monotonic()
        proofs = await self._prove(source, [item["commitment_key"] for item in items], None)
        # A commitment is provable once the header 4 blocks after it is committed: the others
        # wait for a later pass (no client update for nothing).
        ready = [
            (item, proof) for item, proof in zip(items, proofs, strict=True) if proof["present"]
        ]
        if not ready:
            return
        proven = time.monotonic()
        filler = await self.ensure_header(destination, source, _certified_height(proofs))
        await self._submit(
            "receive",
            direction,
            (started, proven, time.monotonic()),
            destination,
            [(item, receive_body(item["packet"], proof)) for item, proof in ready],
            filler,
        )

    async def acknowledge(self, direction: Direction, acks: list[dict[str, Any]]) -> None:
        source, destination = direction.source, direction.destination
        started = time.monotonic()
        proofs = await self._prove(destination, [item["ack_key"] for item in acks], None)
        ready = [
            (item, proof) for item, proof in zip(acks, proofs, strict=True) if proof["present"]
        ]
        if not ready:
            return
        proven = time.monotonic()
        filler = await self.ensure_header(source, destination, _certified_height(proofs))
        await self._submit(
            "acknowledge",
            direction,
            (started, proven, time.monotonic()),
            source,
            [(item, acknowledge_body(item["packet"], item["ack"], proof)) for item, proof in ready],
            filler,
        )

    async def time_out(self, direction: Direction, items: list[dict[str, Any]]) -> None:
        """Prove on the destination that the receipts are absent at a block timed at or after
        every packet's timeout; then no receive can follow (the destination refuses packets
        whose timeout its block time passed), so the source may refund."""
        source, destination = direction.source, direction.destination
        started = time.monotonic()
        proofs = await self._prove(destination, [item["receipt_key"] for item in items], None)
        proven_height = int(proofs[0]["height"])
        proven_time_ms = await self._block_time_ms(destination, proven_height)
        due = [
            (item, proof)
            for item, proof in zip(items, proofs, strict=True)
            if int(item["timeout_ms"]) <= proven_time_ms and not proof["present"]
        ]
        if not due:
            return
        # The source checks the proof against the root certified by the header at h + 4, and
        # the timeout against the time of the header at h itself: its client needs both.
        proven = time.monotonic()
        await self.ensure_header(source, destination, proven_height)
        filler = await self.ensure_header(source, destination, _certified_height(proofs))
        await self._submit(
            "timeout",
            direction,
            (started, proven, time.monotonic()),
            source,
            [(item, timeout_body(item["packet"], proof)) for item, proof in due],
            filler,
        )

    async def _block_time_ms(self, chain: Chain, height: int) -> int:
        """The time of block ``height``; 0 (never past a timeout) for a null block, which
        has no light block: the next pass proves at another height."""
        try:
            light = await chain.reader.fetch_light_block(height)
        except ClientError as error:
            if error.code == "null_block":
                return 0
            raise PassAborted(f"{chain.name}: no light block {height}: {error}") from error
        return int(light["timestamp_ms"])

    async def _prove(
        self, chain: Chain, keys: list[str], height: int | None
    ) -> list[dict[str, Any]]:
        """Proof bundles of ``keys`` on ``chain``, all at one height (the first one's, when
        ``height`` is None: the newest state the chain has certified)."""
        try:
            first = await chain.reader.fetch_proof(keys[0], height)
        except ClientError as error:
            raise PassAborted(f"{chain.name}: cannot prove {keys[0]}: {error}") from error
        at = int(first["height"])
        limiter = asyncio.Semaphore(REQUESTS_IN_FLIGHT_MAX * len(chain.provers))

        async def prove(index: int, key: str) -> dict[str, Any]:
            # Spread over the chain's nodes; one that has not certified ``at`` yet, or
            # does not answer, leaves the proof to the node that gave the first one.
            prover = chain.provers[index % len(chain.provers)]
            async with limiter:
                if prover is not chain.reader:
                    with contextlib.suppress(ClientError):
                        return await prover.fetch_proof(key, at)
                return await chain.reader.fetch_proof(key, at)

        try:
            rest = await asyncio.gather(*(prove(index, key) for index, key in enumerate(keys[1:])))
        except ClientError as error:
            raise PassAborted(f"{chain.name}: cannot prove at height {at}: {error}") from error
        return [first, *rest]

    async def _submit(
        self,
        kind: str,
        direction: Direction,
        moments: tuple[float, float, float],
        chain: Chain,
        submissions: list[tuple[dict[str, Any], RelayBody]],
        filler: RelayBody,
    ) -> None:
        """Submit every tx in one batch (nonce order), then follow the last one: once it is
        committed, so are all before it; then read each result once. One poller instead of one
        per tx keeps the node's API free for the work itself."""
        outcomes: dict[int, str | BaseException] = {}
        hashes: dict[int, str] = {}
        try:
            admissions = await chain.signing().submit([body for _item, body in submissions], filler)
        except ClientError as error:
            admissions = []
            for item, _body in submissions:
                outcomes[int(item["sequence"])] = error
        for (item, _body), admission in zip(submissions, admissions, strict=True):
            sequence = int(item["sequence"])
            if admission.tx_hash is None:
                outcomes[sequence] = admission.code
            else:
                hashes[sequence] = admission.tx_hash
        if hashes:
            await self._follow(chain.client, hashes, outcomes)
        self._account(kind, direction, moments, outcomes)

    async def _follow(
        self, client: AsyncClient, hashes: dict[int, str], outcomes: dict[int, str | BaseException]
    ) -> None:
        last = list(hashes.values())[-1]
        try:
            await client.wait_for(last, TX_TIMEOUT_S)
        except OrderRejected:
            pass  # its own result is read below with the others
        except ClientError as error:
            for sequence in hashes:
                outcomes[sequence] = error
            return
        limiter = asyncio.Semaphore(REQUESTS_IN_FLIGHT_MAX)

        async def result_of(sequence: int, tx_hash: str) -> None:
            async with limiter:
                try:
                    status = await client.fetch_tx(tx_hash)
                except ClientError as error:
                    outcomes[sequence] = error
                    return
            if status["status"] == "committed":
                outcomes[sequence] = str(status["code"])
            else:
                outcomes[sequence] = TimedOut(f"tx {tx_hash}: {status['status']}")

        await asyncio.gather(
            *(result_of(sequence, tx_hash) for sequence, tx_hash in hashes.items())
        )

    def _account(
        self,
        kind: str,
        direction: Direction,
        moments: tuple[float, float, float],
        outcomes: dict[int, str | BaseException],
    ) -> None:
        done: list[int] = []
        repeated: list[int] = []
        refused: dict[str, list[int]] = {}
        failed: dict[str, list[int]] = {}
        for sequence, outcome in sorted(outcomes.items(), key=lambda entry: entry[0]):
            code = outcome.code if isinstance(outcome, OrderRejected) else outcome
            if code == "ok":
                done.append(sequence)
                self.metrics.relayed.labels(kind, direction.label).inc()
            elif isinstance(code, str) and code in ALREADY_DONE_CODES:
                repeated.append(sequence)
                self.metrics.already_done.labels(kind, direction.label).inc()
            elif isinstance(code, str):
                self.metrics.refused.labels(kind, code).inc()
                if code not in TIMED_OUT_CODES:  # a timed-out packet: the timeout pass follows
                    refused.setdefault(code, []).append(sequence)
            else:
                self.metrics.errors.labels(direction.destination.name).inc()
                failed.setdefault(str(outcome), []).append(sequence)
        for error, sequences in sorted(failed.items()):
            self.report(
                "error",
                {
                    "kind": kind,
                    "direction": direction.label,
                    "error": error,
                    "sequences": _ranges(sequences),
                },
            )
        for code, sequences in sorted(refused.items()):
            self.report(
                "refused",
                {
                    "kind": kind,
                    "direction": direction.label,
                    "code": code,
                    "count": len(sequences),
                    "sequences": _ranges(sequences),
                },
            )
        if done or repeated:
            self.report(
                kind,
                {
                    "direction": direction.label,
                    "relayed": len(done),
                    "already_done": len(repeated),
                    "sequences": _ranges(done),
                    "prove_ms": _ms(moments[0], moments[1]),
                    "update_ms": _ms(moments[1], moments[2]),
                    "submit_ms": _ms(moments[2], time.monotonic()),
                },
            )


def _ms(start: float, end: float) -> int:
    return round(1000 * (end - start))


def _certified_height(proofs: list[dict[str, Any]]) -> int:
    return int(proofs[0]["certified_height"])


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``"1-3,7"``: short progress lines for large batches."""
    parts: list[str] = []
    ordered = sorted(numbers)
    start = previous = None
    for number in ordered:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)
