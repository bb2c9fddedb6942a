"""What every ``bftx`` command shares about talking to a person.

- `BftxParser` and `HelpFormatter`: ``--help`` shows each option's default.
- `bftx_command`: how to spell ``bftx`` in a hint so that it runs when pasted
  (``.venv/bin/bftx`` when the venv is not on ``PATH``).
- `print_error`: one error line on standard error, never wrapped by rich.
- `human`: values for tables: ``None`` as "-", seconds as "153 ms", numbers
  with thousands separators, lists joined.
- `progress`: a rich progress bar on standard error for long work, shown only
  on a terminal so that piped output stays clean.
- `positive_seconds`, `timestamp_ms`, `http_url`, `hex_bytes32`, `order_id`,
  `market_symbol`: argparse types,
  so a bad option is a usage error (exit 2) that names it, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bftx import limits


class HelpFormatter(argparse.HelpFormatter):
    """Appends ``(default: X)`` to an option's help unless the text already names its default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            default is None
            or default is False
            or default is argparse.SUPPRESS
            or "default" in text
            or action.option_strings == []  # positional arguments have no default to show
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class BftxParser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands use `HelpFormatter` too (subparsers inherit the class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def bftx_command() -> str:
    """``bftx`` as a person should type it here: plain when on PATH, else the venv's script path."""
    script = Path(sys.executable).parent / "bftx"
    on_path = shutil.which("bftx")
    if on_path is not None and (not script.exists() or Path(on_path).resolve() == script.resolve()):
        return "bftx"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m bftx.cli"
    return shlex.quote(display_path(script))


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it, else absolute."""
    absolute = Path(os.path.abspath(path))
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def print_error(message: str, code: str | None = None) -> None:
    """``error: MESSAGE [code]`` on standard error, in one piece (no wrapping, no markup)."""
    suffix = f" [{code}]" if code else ""
    print(f"error: {message}{suffix}", file=sys.stderr)


def print_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def human(value: Any) -> str:
    """A value as a table cell: readable, whole (never cut), and plain text."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if value == value else "-"
    if isinstance(value, list | tuple):
        return ", ".join(human(item) for item in value) if value else "-"
    if isinstance(value, dict):
        return ", ".join(f"{key}={human(item)}" for key, item in value.items()) or "-"
    return str(value)


def human_number(text: str) -> str:
    """A decimal string with thousands separators (``"45000.00"`` -> ``"45,000.00"``)."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError, ValueError):
        return str(text)
    if not value.is_finite():
        return str(text)
    return f"{value:,f}"


def seconds(value: float) -> str:
    """A duration for people: ``0.1534`` -> ``"153 ms"``, ``12.3`` -> ``"12.3 s"``."""
    return f"{value * 1000:,.0f} ms" if value < 10 else f"{value:,.1f} s"


@contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on standard error (hidden when it is not a terminal); call the result per step."""
    console = Console(stderr=True)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


# --- argparse types: each raises ArgumentTypeError, which argparse turns into a usage error ---

SECONDS_MAX = 10**9  # ~31 years: fits a socket timeout, and now + it in ms fits a timestamp


def positive_seconds(text: str) -> float:
    """A duration option: a positive, finite number of seconds, at most `SECONDS_MAX`."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 < value <= SECONDS_MAX:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a positive number of seconds, at most {SECONDS_MAX:,}"
        )
    return value


def timestamp_ms(text: str) -> int:
    """An absolute time option in milliseconds: 0 to `limits.timestamp_ms_max`, in decimal digits."""
    if not (text.isascii() and text.isdigit()) or int(text) > limits.timestamp_ms_max:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected milliseconds since the epoch, 0 to {limits.timestamp_ms_max:,}"
        )
    return int(text)


def http_url(text: str) -> str:
    """A node's URL: http:// or https:// with a host (and a valid port, if any)."""
    try:
        url = httpx.URL(text)
        valid = url.scheme in ("http", "https") and bool(url.host)
    except httpx.InvalidURL as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid URL: {error}") from None
    if not valid:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a URL like http://127.0.0.1:8700")
    return text


def hex_bytes32(text: str) -> str:
    """32 bytes in hex (64 hex digits, optionally 0x-prefixed), returned without the prefix."""
    digits = text.removeprefix("0x")
    if len(digits) != 64 or not all(char in "0123456789abcdefABCDEF" for char in digits):
        raise argparse.ArgumentTypeError(f"{text!r}: expected 32 bytes in hex (64 hex digits)")
    return digits.lower()


def order_id(text: str) -> str:
    """``<address hex>:<nonce>`` or a bare nonce: decimal digits up to `limits.nonce_max`."""
    address, colon, nonce = text.rpartition(":")
    digits = address.removeprefix("0x")
    valid_address = not colon or (
        len(digits) == 40 and all(char in "0123456789abcdefABCDEF" for char in digits)
    )
    if not (valid_address and nonce.isascii() and nonce.isdigit()):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected <address>:<nonce> or a nonce (decimal digits)"
        )
    if int(nonce) > limits.nonce_max:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the nonce is past the largest a tx may carry ({limits.nonce_max:,})"
        )
    return f"{digits.lower()}:{int(nonce)}" if colon else str(int(nonce))


def market_symbol(text: str) -> str:
    """A market symbol such as ``BTC/USD`` (or ``BTC-USD``): not empty, no blanks."""
    if not text or text != text.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a market symbol like BTC/USD")
    return text
