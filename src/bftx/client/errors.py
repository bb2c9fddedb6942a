"""What the SDK raises: one hierarchy under `ClientError`, so one ``except`` catches them all.

::

    ClientError                 any failure of the SDK; ``code`` is a stable slug, ``status`` the HTTP status
    ├── KeyFileError            a key file that is missing, unreadable, too open or not a key (also a ConfigError)
    ├── NetworkError            the node cannot be reached, or a stream cannot be opened
    ├── InvalidArgument         refused before sending: a malformed URL, timeout, tx hash, symbol, height
    │   └── InvalidOrder        refused before signing: unknown market, off the tick or lot, out of range
    ├── OrderRejected           the network refused the tx (at admission or execution); ``code`` says why
    └── TimedOut                the tx was not final within the time allowed

Every message says what was wrong and, where there is one, what to do.
"""

from __future__ import annotations

from bftx.errors import ConfigError


class ClientError(Exception):
    """A request failed: bad input, an unreachable node, or an error response (``code`` says which)."""

    def __init__(self, message: str, code: str = "client_error", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class KeyFileError(ClientError, ConfigError):
    """A key file that cannot be used: missing, unreadable, readable by others, or not a key file.

    It is also a `bftx.errors.ConfigError`, so code that caught the error
    `bftx.crypto.load_key` raises keeps working.
    """

    def __init__(self, message: str, code: str = "key_file") -> None:
        super().__init__(message, code)


class NetworkError(ClientError):
    """The node did not answer: it is not running, the URL is wrong, or the connection broke."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "unreachable")


class InvalidArgument(ClientError):
    """An argument refused before anything is sent: not a URL, not a tx hash, not a symbol..."""

    def __init__(self, message: str, code: str = "invalid_argument") -> None:
        super().__init__(message, code)


class InvalidOrder(InvalidArgument):
    """The order cannot be built: unknown market, a price off the tick, a size off the lot..."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "invalid_order")


class OrderRejected(ClientError):
    """The network refused the tx at admission or execution; ``code`` is the rejection code."""


class TimedOut(ClientError):
    """The tx was not committed within the time the caller allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "timed_out")
