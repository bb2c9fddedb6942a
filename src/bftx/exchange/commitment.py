"""The state root: an incrementally maintained commitment to every entry of the state.

Entries are (key, value) byte strings (an account, an open order, an asset's
supply, the global counters). Each entry lives in one of ``2**buckets_log2``
buckets chosen by the hash of its key; a bucket's hash is the SHA-256 of its
entries' leaf hashes in key order; the root is the Merkle root
(`bftx.crypto.merkle_root` shape, node-prefixed) over the bucket hashes.

Only buckets touched since the last root are rehashed, and only their paths up
the tree, so the cost of a root follows the size of a block, not of the state.
Equal sets of entries give equal roots; any changed, added or removed entry
changes it. (Keys are chosen by users: one could grind many keys into one
bucket and make that bucket slow to rehash; the order limits per account bound
how far that goes.)
"""

from __future__ import annotations

import hashlib

_EMPTY = hashlib.sha256(b"").digest()
_NODE = b"\x01"


class StateCommitment:
    __slots__ = ("buckets", "buckets_log2", "dirty", "levels")

    def __init__(self, buckets_log2: int) -> None:
        self.buckets_log2 = buckets_log2
        count = 1 << buckets_log2
        self.buckets: list[dict[bytes, bytes]] = [{} for _ in range(count)]
        self.dirty: set[int] = set()
        empty_level = [_EMPTY] * count
        self.levels: list[list[bytes]] = [empty_level]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [
                    hashlib.sha256(_NODE + below[i] + below[i + 1]).digest()
                    for i in range(0, len(below), 2)
                ]
            )

    def bucket_of(self, key: bytes) -> int:
        return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") >> (32 - self.buckets_log2)

    def put(self, key: bytes, value: bytes) -> None:
        index = self.bucket_of(key)
        self.buckets[index][key] = hashlib.sha256(
            len(key).to_bytes(2, "big") + key + value
        ).digest()
        self.dirty.add(index)

    def delete(self, key: bytes) -> None:
        index = self.bucket_of(key)
        if self.buckets[index].pop(key, None) is not None:
            self.dirty.add(index)

    def root(self) -> bytes:
        if self.dirty:
            self._rehash(sorted(self.dirty))
            self.dirty.clear()
        return self.levels[-1][0]

    def _rehash(self, indices: list[int]) -> None:
        sha256 = hashlib.sha256
        base = self.levels[0]
        for index in indices:
            bucket = self.buckets[index]
            base[index] = (
                sha256(b"".join(bucket[key] for key in sorted(bucket))).digest()
                if bucket
                else _EMPTY
            )
        touched = indices
        for depth in range(1, len(self.levels)):
            below, level = self.levels[depth - 1], self.levels[depth]
            parents = sorted({index >> 1 for index in touched})
            for parent in parents:
                level[parent] = sha256(_NODE + below[2 * parent] + below[2 * parent + 1]).digest()
            touched = parents
