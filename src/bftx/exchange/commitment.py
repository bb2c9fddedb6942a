"""The state root: an incrementally maintained commitment to every entry of the state,
with membership and absence proofs at recent heights.

Entries are (key, value) byte strings (an account, an open order, an asset's
supply, an HTLC or deal, the global counters). Each entry lives in one of
``2**buckets_log2`` buckets chosen by the hash of its key. A bucket's hash is
``sha256(0x00 || record...)`` over its entries in key order, where an entry's
record is ``len(key) (2 bytes) || key || sha256(value)``; the root is a binary
Merkle tree (``sha256(0x01 || left || right)``) over the bucket hashes.

Why this shape (docs/settlement.md, "State proofs"): a proof of an entry is its
whole bucket (each key with its value's hash) plus the sibling path, so a
verifier sees *every* key of that bucket and can tell "absent" from
"withheld". Buckets stay small (a few entries on average), so proofs do too,
and a block rehashes only the buckets it touched and their paths: the cost of
a root follows the size of a block, not of the state. (Keys are partly chosen
by users: grinding many keys into one bucket makes it slower to rehash and its
proofs longer; the per-account limits on orders and contracts bound how far.)

Heights: `seal` marks the end of a block. The commitment then keeps the
bucket hashes of that height and, for each key changed after it, its entry at
that height (an undo log), for the last ``limits.proof_heights_max`` heights,
so `prove` can rebuild a bucket as it was and answer for the state a
certified header commits to (a header anchors the state a few blocks back).
Memory follows the traffic of those heights, not the size of the state.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from bftx import limits

_EMPTY_BUCKET = hashlib.sha256(b"\x00").digest()
_BUCKET = b"\x00"
_NODE = b"\x01"

Entry = tuple[bytes, bytes]  # (record, value)
Bucket = dict[bytes, Entry]
Undo = dict[bytes, tuple[int, Entry | None]]  # key -> (bucket, entry before; None: absent)
_sha256 = hashlib.sha256
KEY_BYTES_MAX = 255  # state keys are short: a tag and an address or id
_KEY_LENGTHS = [length.to_bytes(2, "big") for length in range(KEY_BYTES_MAX + 1)]


@dataclass(frozen=True, slots=True)
class BucketProof:
    """An entry's bucket at one height: every (key, sha256(value)) in key order, the entry's
    value (None when the key is absent) and the sibling hashes from the bucket up to the root."""

    key: bytes
    value: bytes | None
    bucket_index: int
    entries: tuple[tuple[bytes, bytes], ...]
    siblings: tuple[bytes, ...]


class _Height:
    __slots__ = ("bucket_hashes", "undo")

    def __init__(self, bucket_hashes: list[bytes]) -> None:
        self.bucket_hashes = bucket_hashes
        # what changed after this height: each changed key's entry at this height
        self.undo: Undo = {}


class StateCommitment:
    __slots__ = ("buckets", "buckets_log2", "dirty", "heights", "levels", "shift", "undo")

    def __init__(self, buckets_log2: int) -> None:
        self.buckets_log2 = buckets_log2
        self.shift = 32 - buckets_log2
        count = 1 << buckets_log2
        self.buckets: list[Bucket] = [{} for _ in range(count)]
        self.dirty: set[int] = set()
        self.levels: list[list[bytes]] = build_levels([_EMPTY_BUCKET] * count)
        self.heights: OrderedDict[int, _Height] = OrderedDict()
        self.undo: Undo | None = None  # of the newest sealed height

    def bucket_of(self, key: bytes) -> int:
        return compute_bucket_index(key, self.buckets_log2)

    def put(self, key: bytes, value: bytes) -> None:
        # on the hot path of every block: `bucket_of` and the record are inlined
        index = int.from_bytes(_sha256(key).digest()[:4], "big") >> self.shift
        bucket = self.buckets[index]
        undo = self.undo
        if undo is not None and key not in undo:
            undo[key] = (index, bucket.get(key))
        bucket[key] = (_KEY_LENGTHS[len(key)] + key + _sha256(value).digest(), value)
        self.dirty.add(index)

    def delete(self, key: bytes) -> None:
        index = self.bucket_of(key)
        bucket = self.buckets[index]
        if key in bucket:
            undo = self.undo
            if undo is not None and key not in undo:
                undo[key] = (index, bucket[key])
            del bucket[key]
            self.dirty.add(index)

    def root(self) -> bytes:
        if self.dirty:
            self._rehash(sorted(self.dirty))
            self.dirty.clear()
        return self.levels[-1][0]

    def seal(self, height: int) -> None:
        """The entries now are the state after block ``height``: keep them provable."""
        self.root()
        sealed = _Height(list(self.levels[0]))
        self.heights[height] = sealed
        self.undo = sealed.undo
        while len(self.heights) > limits.proof_heights_max:
            self.heights.popitem(last=False)

    def provable_heights(self) -> tuple[int, ...]:
        return tuple(self.heights)

    def prove(self, key: bytes, height: int) -> BucketProof | None:
        """The proof of ``key`` (present or absent) in the state after ``height``; None when
        that height is not kept."""
        sealed = self.heights.get(height)
        if sealed is None:
            return None
        index = self.bucket_of(key)
        bucket = dict(self.buckets[index])
        for later_height, later in reversed(self.heights.items()):  # newest first, back to it
            if later_height < height:
                break
            for changed_key, (changed_index, entry) in later.undo.items():
                if changed_index != index:
                    continue
                if entry is None:
                    bucket.pop(changed_key, None)
                else:
                    bucket[changed_key] = entry
        levels = build_levels(sealed.bucket_hashes)
        siblings = []
        position = index
        for level in levels[:-1]:
            siblings.append(level[position ^ 1])
            position >>= 1
        found = bucket.get(key)
        return BucketProof(
            key,
            None if found is None else found[1],
            index,
            tuple((k, bucket[k][0][-32:]) for k in sorted(bucket)),
            tuple(siblings),
        )

    def _rehash(self, indices: list[int]) -> None:
        sha256 = hashlib.sha256
        base = self.levels[0]
        for index in indices:
            bucket = self.buckets[index]
            if bucket:
                records = [bucket[key][0] for key in sorted(bucket)]
                base[index] = sha256(_BUCKET + b"".join(records)).digest()
            else:
                base[index] = _EMPTY_BUCKET
        touched = indices
        for depth in range(1, len(self.levels)):
            below, level = self.levels[depth - 1], self.levels[depth]
            parents = sorted({index >> 1 for index in touched})
            for parent in parents:
                level[parent] = sha256(_NODE + below[2 * parent] + below[2 * parent + 1]).digest()
            touched = parents


def compute_bucket_index(key: bytes, buckets_log2: int) -> int:
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "big") >> (32 - buckets_log2)


def build_levels(bucket_hashes: list[bytes]) -> list[list[bytes]]:
    levels = [bucket_hashes]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [
                hashlib.sha256(_NODE + below[i] + below[i + 1]).digest()
                for i in range(0, len(below), 2)
            ]
        )
    return levels


def compute_proof_root(proof: BucketProof, buckets_log2: int) -> bytes | None:
    """The state root ``proof`` leads to, or None when it is inconsistent in itself (wrong
    bucket for the key, unsorted or repeated keys, a value that does not match its entry,
    a present key reported absent, a path of the wrong length)."""
    if proof.bucket_index != compute_bucket_index(proof.key, buckets_log2):
        return None
    if len(proof.siblings) != buckets_log2:
        return None
    records = []
    previous: bytes | None = None
    listed_hash: bytes | None = None
    for key, value_hash in proof.entries:
        if previous is not None and key <= previous:
            return None
        if len(value_hash) != 32 or compute_bucket_index(key, buckets_log2) != proof.bucket_index:
            return None
        if key == proof.key:
            listed_hash = value_hash
        records.append(_KEY_LENGTHS[len(key)] + key + value_hash)
        previous = key
    if proof.value is None:
        if listed_hash is not None:
            return None
    elif listed_hash != hashlib.sha256(proof.value).digest():
        return None
    node = hashlib.sha256(_BUCKET + b"".join(records)).digest() if records else _EMPTY_BUCKET
    position = proof.bucket_index
    for sibling in proof.siblings:
        if len(sibling) != 32:
            return None
        pair = node + sibling if position % 2 == 0 else sibling + node
        node = hashlib.sha256(_NODE + pair).digest()
        position >>= 1
    return node
