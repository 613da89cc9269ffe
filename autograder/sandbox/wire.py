"""Length-prefixed JSON messages over a stream socket, with size, structure and time limits.

:func:`recv` refuses a message longer than ``max_bytes`` before reading it,
one holding more than ``max_nodes`` JSON containers and separators before
parsing it (so a child cannot make the grader allocate ~50 bytes per byte it
sends), and one that is not read *and parsed* by its deadline.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time

HEADER = struct.Struct("!Q")


class WireError(Exception):
    """The other side closed, sent garbage, or took too long."""


class WireTimeout(WireError):
    pass


class WireProtocolError(WireError):
    """The other side sent something too large, too complex or malformed."""


def send(sock: socket.socket, message: dict) -> None:
    data = json.dumps(message, separators=(",", ":")).encode("utf-8", errors="surrogatepass")
    try:
        sock.sendall(HEADER.pack(len(data)) + data)
    except OSError as exc:
        raise WireError(f"send failed: {exc.__class__.__name__}") from None


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WireTimeout("timed out")
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                raise WireTimeout("timed out")
        try:
            count = sock.recv_into(view[got:], min(n - got, 1 << 20))
        except OSError as exc:
            raise WireError(f"receive failed: {exc.__class__.__name__}") from None
        if not count:
            raise WireError("connection closed")
        got += count
    return bytes(buf)


def nodes(data: bytes) -> int:
    """An upper bound on the number of JSON values in ``data`` (containers and separators)."""
    return data.count(b"[") + data.count(b"{") + data.count(b",") + 1


def recv(sock: socket.socket, timeout: float | None = None, max_bytes: int = 256 << 20,
         max_nodes: int | None = None) -> dict:
    """Read one message; raise :class:`WireTimeout`, :class:`WireProtocolError` or :class:`WireError`.

    Args:
        sock: a connected stream socket.
        timeout: seconds for reading and parsing the whole message (None: no limit).
        max_bytes: the longest message accepted.
        max_nodes: the most JSON values accepted (None: no limit).

    Returns:
        the message (a dict).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    (length,) = HEADER.unpack(_recv_exact(sock, HEADER.size, deadline))
    if length > max_bytes:
        raise WireProtocolError("message too large")
    data = _recv_exact(sock, length, deadline)
    if max_nodes is not None and nodes(data) > max_nodes:
        raise WireProtocolError("message too complex")
    try:
        message = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError, MemoryError):
        raise WireProtocolError("malformed message") from None
    if deadline is not None and time.monotonic() > deadline:
        raise WireTimeout("timed out")  # parsing counts against the same deadline
    if not isinstance(message, dict):
        raise WireProtocolError("malformed message")
    return message
