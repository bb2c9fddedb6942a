"""The chaos load's client rules: a tx refused for good is replaced only when no node can hold it."""

from __future__ import annotations

import asyncio
import time

import httpx

from bftx.chaos.load import ACKNOWLEDGED_REFUSED_S, Load
from tests.exchange.support import CHAIN_ID, key


def _load() -> Load:
    client = httpx.AsyncClient()
    load = Load(["http://n0"], ["node0"], CHAIN_ID, [key(1)], [], 10.0, 7, client)
    asyncio.run(client.aclose())
    return load


def test_a_refused_tx_no_node_acknowledged_is_replaced_at_once() -> None:
    load = _load()
    account = load.accounts[0]
    load._sign_next(account)
    refused = account.hashes[0]
    load._refused(account, 0, "unknown_order")
    assert account.hashes[0] != refused and load.stats.replaced == 1


def test_an_acknowledged_tx_is_sent_again_as_it_is_until_refused_for_long() -> None:
    """A node that acknowledged it may hold it; a rival with its nonce would make it lost."""
    load = _load()
    account = load.accounts[0]
    load._sign_next(account)
    acknowledged = account.hashes[0]
    load.stats.acknowledged.add(acknowledged)
    load._refused(account, 0, "unknown_order")
    load._refused(account, 0, "unknown_order")
    assert account.hashes[0] == acknowledged and load.stats.replaced == 0
    account.refused_s[0] = time.monotonic() - ACKNOWLEDGED_REFUSED_S  # refused that long
    load._refused(account, 0, "unknown_order")
    assert account.hashes[0] != acknowledged and load.stats.replaced == 1
