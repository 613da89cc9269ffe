"""Length-prefixed JSON messages over a stream socket, with size and time limits."""

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


def send(sock: socket.socket, message: dict) -> None:
    data = json.dumps(message, separators=(",", ":")).encode("utf-8")
    try:
        sock.sendall(HEADER.pack(len(data)) + data)
    except OSError as exc:
        raise WireError(f"send failed: {exc.__class__.__name__}") from None


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WireTimeout("timed out")
            ready, _, _ = select.select([sock], [], [], remaining)
            if not ready:
                raise WireTimeout("timed out")
        try:
            chunk = sock.recv(min(n - got, 1 << 20))
        except OSError as exc:
            raise WireError(f"receive failed: {exc.__class__.__name__}") from None
        if not chunk:
            raise WireError("connection closed")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv(sock: socket.socket, timeout: float | None = None, max_bytes: int = 256 << 20) -> dict:
    deadline = None if timeout is None else time.monotonic() + timeout
    (length,) = HEADER.unpack(_recv_exact(sock, HEADER.size, deadline))
    if length > max_bytes:
        raise WireError("message too large")
    try:
        message = json.loads(_recv_exact(sock, length, deadline))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise WireError("malformed message") from None
    if not isinstance(message, dict):
        raise WireError("malformed message")
    return message
