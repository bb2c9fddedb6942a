"""Reading nodes through their public REST API: status while faults run, everything at the end.

`read_view` builds one node's `NodeView` for the checks: its height, every
block from 1 to that height (a 404 is a missing block), the balances of the
genesis accounts, their trades in each market (the newest
`limits.recent_trades_max`) and the best prices of each market; `read_tx_statuses` adds
the node's answer for the txs asked about (``GET /v1/txs/{hash}`` costs a node
far more than a block read, so the run asks about a chosen set: see
`bftx.chaos.checks.compute_status_sample`). Requests run concurrently, a bounded
number per node.

Must never: treat an unanswered request as an answer (a node that stops
answering while it is read is marked unreachable, and the run fails).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import httpx

from bftx import limits
from bftx.chaos.checks import Balance, BestPrices, BlockSeen, NodeView, TxSeen

STATUS_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 20.0
READ_RETRIES = 3
REQUESTS_PER_NODE_MAX = 16


class NodeUnreadable(Exception):
    """A node did not answer a request (after retries) while being read."""


async def fetch_status(client: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    """``GET /v1/status``, or None when the node does not answer (down, paused, cut off)."""
    try:
        response = await client.get(f"{url}/v1/status", timeout=STATUS_TIMEOUT_S)
        if response.status_code != 200:
            return None
        status: dict[str, Any] = response.json()
        return status
    except (httpx.HTTPError, ValueError):
        return None


async def fetch_statuses(client: httpx.AsyncClient, urls: list[str]) -> list[dict[str, Any] | None]:
    return list(await asyncio.gather(*(fetch_status(client, url) for url in urls)))


async def _get(client: httpx.AsyncClient, url: str, gate: asyncio.Semaphore) -> httpx.Response:
    last: Exception | None = None
    for _attempt in range(READ_RETRIES):
        async with gate:
            try:
                response = await client.get(url, timeout=READ_TIMEOUT_S)
            except httpx.HTTPError as error:
                last = error
                await asyncio.sleep(0.5)
                continue
        if response.status_code >= 500:
            last = httpx.HTTPStatusError(
                "server error", request=response.request, response=response
            )
            await asyncio.sleep(0.5)
            continue
        return response
    raise NodeUnreadable(f"{url}: {last}")


async def read_view(
    client: httpx.AsyncClient,
    name: str,
    url: str,
    accounts: Iterable[str],
    markets: Iterable[str],
) -> NodeView:
    """One node's blocks, balances, books and each account's trades; `NodeView.unreachable` says
    why when it could not be."""
    accounts, markets = list(accounts), list(markets)
    gate = asyncio.Semaphore(REQUESTS_PER_NODE_MAX)
    status = await fetch_status(client, url)
    if status is None:
        return NodeView(name, 0, unreachable="no answer to /v1/status")
    view = NodeView(name, int(status["height"]))
    try:
        await asyncio.gather(
            *(_read_block(client, url, height, view, gate) for height in range(1, view.height + 1)),
            *(_read_account(client, url, address, view, gate) for address in accounts),
            *(_read_book(client, url, market, view, gate) for market in markets),
            *(
                _read_account_trades(client, url, address, market, view, gate)
                for address in accounts
                for market in markets
            ),
        )
    except NodeUnreadable as error:
        view.unreachable = str(error)
    return view


async def read_tx_statuses(
    client: httpx.AsyncClient, url: str, view: NodeView, tx_hashes: Iterable[str]
) -> None:
    """Add the node's answer for each tx to ``view.txs``."""
    if view.unreachable:
        return
    gate = asyncio.Semaphore(REQUESTS_PER_NODE_MAX)
    try:
        await asyncio.gather(*(_read_tx(client, url, tx, view, gate) for tx in tx_hashes))
    except NodeUnreadable as error:
        view.unreachable = str(error)


async def _read_block(
    client: httpx.AsyncClient, url: str, height: int, view: NodeView, gate: asyncio.Semaphore
) -> None:
    response = await _get(client, f"{url}/v1/blocks/{height}", gate)
    if response.status_code == 404:
        return  # a missing block: the check counts it
    document = response.json()
    view.blocks[height] = BlockSeen(
        height,
        str(document["hash"]),
        tuple(str(tx) for tx in document["txs"]),
        tuple(str(share["name"]) for share in document["signatures"]),
    )


async def _read_tx(
    client: httpx.AsyncClient, url: str, tx_hash: str, view: NodeView, gate: asyncio.Semaphore
) -> None:
    document = (await _get(client, f"{url}/v1/txs/{tx_hash}", gate)).json()
    height = document.get("height")
    view.txs[tx_hash] = TxSeen(
        str(document["status"]),
        int(height) if height is not None else None,
        document.get("code"),
    )


async def _read_account(
    client: httpx.AsyncClient, url: str, address: str, view: NodeView, gate: asyncio.Semaphore
) -> None:
    document = (await _get(client, f"{url}/v1/accounts/{address}", gate)).json()
    view.balances[address] = {
        str(entry["asset"]): Balance(int(entry["available_units"]), int(entry["locked_units"]))
        for entry in document["balances"]
    }


async def _read_account_trades(
    client: httpx.AsyncClient,
    url: str,
    address: str,
    market: str,
    view: NodeView,
    gate: asyncio.Semaphore,
) -> None:
    path = market.replace("/", "-")
    response = await _get(
        client,
        f"{url}/v1/accounts/{address}/trades?market={path}&limit={limits.recent_trades_max}",
        gate,
    )
    view.account_trades[(address, market)] = tuple(
        int(trade["trade_id"]) for trade in response.json()
    )


async def _read_book(
    client: httpx.AsyncClient, url: str, market: str, view: NodeView, gate: asyncio.Semaphore
) -> None:
    path = market.replace("/", "-")
    document = (await _get(client, f"{url}/v1/markets/{path}/book?depth=1", gate)).json()
    bids, asks = document["bids"], document["asks"]
    view.books[market] = BestPrices(
        int(bids[0]["price_ticks"]) if bids else None,
        int(asks[0]["price_ticks"]) if asks else None,
    )
