"""Filling heights skipped by state transfer: the sync messages, and f + 1 agreement on results."""

from __future__ import annotations

import pytest

from bftx import limits
from bftx.errors import DecodeError
from bftx.node import sync

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


def test_backfill_messages_round_trip_and_bad_ones_are_refused() -> None:
    request = sync.decode_sync(sync.encode_backfill_request(5, 9))
    assert request == sync.BackfillRequest(5, 9)
    reply = sync.decode_sync(sync.encode_backfill_reply([(b"block", b"cert", b"result")]))
    assert reply == sync.BackfillReply(((b"block", b"cert", b"result"),))
    assert sync.decode_sync(sync.encode_request(3)) == sync.SyncRequest(3)
    with pytest.raises(DecodeError):
        sync.decode_sync(sync.encode_backfill_request(9, 5))  # an empty range
    with pytest.raises(DecodeError):
        sync.decode_sync(sync.encode_backfill_request(0, 5))


def test_a_result_is_taken_only_once_f_plus_one_validators_send_the_same_bytes() -> None:
    backfill = sync.Backfill(agreement=2)
    backfill.set_gap((10, 12))
    assert backfill.offer(A, 10, b"block", b"cert", b"lie") is None
    assert backfill.offer(A, 10, b"block", b"cert", b"truth") is None  # one vote per validator
    assert backfill.offer(B, 10, b"block", b"cert2", b"truth") is None  # 1 vote for truth so far
    assert backfill.offer(C, 10, b"block", b"cert3", b"truth") == (b"block", b"cert2", b"truth")
    assert 10 not in backfill.candidates


def test_heights_outside_the_range_asked_for_are_ignored_and_old_ones_forgotten() -> None:
    backfill = sync.Backfill(agreement=1)
    assert backfill.request_range() is None
    backfill.set_gap((10, 10 + 5 * limits.sync_blocks_max))
    assert backfill.request_range() == (10, 10 + limits.sync_blocks_max - 1)
    assert backfill.offer(A, 9, b"b", b"c", b"r") is None
    assert backfill.offer(A, 10 + limits.sync_blocks_max, b"b", b"c", b"r") is None
    backfill = sync.Backfill(agreement=2)
    backfill.set_gap((10, 20))
    backfill.offer(A, 11, b"b", b"c", b"r")
    backfill.set_gap((12, 20))  # 10 and 11 were filled meanwhile
    assert backfill.candidates == {}
