"""What the SDK raises. Every error says what was wrong; rejections carry the stable code."""

from __future__ import annotations


class ClientError(Exception):
    """A request failed: bad input, an unreachable node, or an error response (``code`` says which)."""

    def __init__(self, message: str, code: str = "client_error", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class InvalidOrder(ClientError):
    """The order cannot be built: unknown market, a price off the tick, a size off the lot..."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "invalid_order")


class OrderRejected(ClientError):
    """The network refused the tx at admission or execution; ``code`` is the rejection code."""


class TimedOut(ClientError):
    """The tx was not committed within the time the caller allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "timed_out")
