"""Signing the relayer's txs on one chain in nonce order and submitting them in batches.

One request carries a whole batch (``POST /v1/txs/batch``) instead of one
request per tx: a node answers each submission only after handing it to its
peers, so one tx at a time would cost a round trip each. Every tx of the
relayer's key on this chain goes through one `Signer`, so nonces never clash
between the two directions that submit to the same chain.

A tx refused at admission leaves a hole in the nonces that would hold back
every later tx of the batch; the signer fills it with a harmless tx (a client
update with a header the client holds: a no-op). When it cannot (or a nonce
was refused), it forgets its nonce and reads it from the chain next time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bftx.client import AsyncClient, ClientError
from bftx.client.core import sign
from bftx.client.interchain import RelayBody
from bftx.crypto import KeyPair

NONCE_CODES = frozenset({"nonce_used", "nonce_gap", "duplicate_tx", "nonce_pending"})
SHED_CODES = frozenset({"overloaded", "mempool_full"})  # the node's intake is full: send later
CHUNK_TXS = 64  # txs per request: a node admits a request's txs within its intake budget
SHED_RETRIES_MAX = 100  # then the rest is left to the next pass
SHED_PAUSE_S = 0.1  # what a node shed is sent again after this


@dataclass(frozen=True, slots=True)
class Admission:
    tx_hash: str | None  # None: refused at admission
    code: str  # "ok" or the refusal code


class Signer:
    def __init__(self, client: AsyncClient, key: KeyPair, chain_id: str) -> None:
        self.client = client
        self.key = key
        self.chain_id = chain_id
        self.next_nonce: int | None = None
        self.lock = asyncio.Lock()

    async def submit(
        self, bodies: list[RelayBody], filler: RelayBody | None = None
    ) -> list[Admission]:
        """Sign ``bodies`` with consecutive nonces and submit them, a chunk per request; each
        one's admission, in order. What a node sheds for load is sent again after a pause;
        ``filler`` fills the nonce of a tx refused for another reason."""
        admissions: list[Admission] = []
        async with self.lock:
            remaining = list(bodies)
            retries = 0
            while remaining:
                chunk = remaining[:CHUNK_TXS]
                answered = await self._submit_chunk(chunk, filler)
                shed = _trailing(answered, SHED_CODES)
                if shed and retries < SHED_RETRIES_MAX:
                    admissions += answered[: len(answered) - shed]
                    remaining = remaining[len(chunk) - shed :]
                    retries += 1
                    await asyncio.sleep(SHED_PAUSE_S)
                    continue
                admissions += answered
                remaining = remaining[len(chunk) :]
        return admissions

    async def _submit_chunk(
        self, bodies: list[RelayBody], filler: RelayBody | None
    ) -> list[Admission]:
        if self.next_nonce is None:
            balance = await self.client.fetch_balance()
            self.next_nonce = int(balance["info"]["nonce"])
        first = self.next_nonce
        txs = [sign(self.key, self.chain_id, first + i, body) for i, body in enumerate(bodies)]
        try:
            results = await self.client.submit_batch(txs)
        except ClientError:
            self.next_nonce = None  # perhaps admitted, perhaps not: ask the chain next time
            raise
        admissions = [
            Admission(str(result["tx_hash"]), "ok")
            if result["accepted"]
            else Admission(None, str(result["code"]))
            for result in results
        ]
        accepted = [i for i, admission in enumerate(admissions) if admission.tx_hash]
        self.next_nonce = first + (accepted[-1] + 1 if accepted else 0)
        taken = set(accepted)
        holes = [i for i in range(accepted[-1] if accepted else 0) if i not in taken]
        if any(admission.code in NONCE_CODES for admission in admissions) or (
            holes and not await self._fill(holes, first, filler)
        ):
            self.next_nonce = None
        return admissions

    async def _fill(self, holes: list[int], first: int, filler: RelayBody | None) -> bool:
        if filler is None:
            return False
        txs = [sign(self.key, self.chain_id, first + i, filler) for i in holes]
        try:
            results = await self.client.submit_batch(txs)
        except ClientError:
            return False
        return all(result["accepted"] for result in results)


def _trailing(admissions: list[Admission], codes: frozenset[str]) -> int:
    """How many admissions at the end were refused with one of ``codes``."""
    count = 0
    for admission in reversed(admissions):
        if admission.code not in codes:
            break
        count += 1
    return count
