"""The mempool across a clean restart: admitted, uncommitted txs saved at stop, loaded at start.

A node stopped by SIGTERM or SIGINT writes every tx its mempool holds (the
signed bytes, each account's in nonce order) to ``pending.bin`` in its data
directory; the next start reads the file and admits each tx again like a
submission (signature, chain id, `check_tx` against the recovered state), so
what committed meanwhile is refused and what can still execute is proposed,
and handed to each peer as its link comes up. The file is deleted only once
the node has started (every listener bound): a start that fails keeps it,
and its stop leaves it as it was. Without it, stopping every node at once
drops every acknowledged tx not yet in a block.

Nothing is written per tx while the node runs: a kill -9 saves nothing. An
acknowledged tx then survives on any peer that holds it (it was gossiped
before the client was answered), but not a kill -9 of every node at once;
docs/node.md says what is promised.

Must never: trust the file (it is decoded with limits, and every tx in it is
admitted again as if a client had sent it), or leave a file behind that a
later start could read a second time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bftx import codec, limits
from bftx.errors import DecodeError

PENDING_FILE = "pending.bin"
# The file never holds more than a full mempool, plus the encoding's overhead per tx.
PENDING_FILE_BYTES_MAX = limits.mempool_bytes_max + 16 * limits.mempool_txs_max


def save_pending(directory: Path, txs: Sequence[bytes]) -> Path | None:
    """Write ``txs`` to ``directory/pending.bin`` durably (temporary file, fsync, rename).

    Nothing is written (and an older file is removed) when there is no tx.
    """
    path = directory / PENDING_FILE
    if not txs:
        path.unlink(missing_ok=True)
        return None
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as file:
        file.write(codec.encode(tuple(txs)))
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    _sync_directory(directory)
    return path


def load_pending(directory: Path) -> list[bytes]:
    """The txs a clean stop saved, and the file removed; [] when there is none.

    Raises `DecodeError` for a file that is not a bounded list of tx bytes
    (the file is removed all the same: it can never become readable).
    """
    try:
        txs = read_pending(directory)
    except DecodeError:
        discard_pending(directory)
        raise
    discard_pending(directory)
    return txs


def read_pending(directory: Path) -> list[bytes]:
    """The txs a clean stop saved, the file left in place; [] when there is none.

    A node deletes the file (`discard_pending`) only once it has started: a
    start that fails finds the same txs at the next one. Raises `DecodeError`
    for a file that is not a bounded list of tx bytes.
    """
    try:
        data = (directory / PENDING_FILE).read_bytes()
    except FileNotFoundError:
        return []
    return decode_pending(data)


def discard_pending(directory: Path) -> None:
    """Delete the saved txs durably (nothing to do when there is no file)."""
    path = directory / PENDING_FILE
    if path.exists():
        path.unlink()
        _sync_directory(directory)


def decode_pending(data: bytes) -> list[bytes]:
    value = codec.decode(data, PENDING_FILE_BYTES_MAX, limits.mempool_txs_max)
    items = codec.expect_list(value, limits.mempool_txs_max, "pending txs")
    txs = [codec.expect_bytes(item, "pending tx", max_size=limits.tx_bytes_max) for item in items]
    if sum(map(len, txs)) > limits.mempool_bytes_max:
        raise DecodeError("pending txs: more bytes than a mempool holds")
    return txs


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
