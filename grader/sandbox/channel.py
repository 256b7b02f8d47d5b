"""The grader's end of the worker pipes, with a deadline on every read and write.

The messages are framed as `multiprocessing.connection.Connection` frames them (the worker uses
`Connection` itself): a 4-byte big-endian signed length, then the bytes. The grader never blocks
past a deadline on what the student's process does: a worker that stops reading its requests, or
sends half a message and stalls, costs its own time limit and no more (`Late`).
"""

from __future__ import annotations

import os
import select
import struct
import time
from multiprocessing.connection import Connection

__all__ = ["Late", "TooLarge", "send_within", "recv_within"]

_HEADER = struct.Struct("!i")
_CHUNK = 1 << 20


class Late(Exception):
    """The deadline passed before the message was through."""


class TooLarge(ValueError):
    """The worker announced a message larger than the limit (it is not read)."""


def _wait(fd: int, event: int, until: float) -> None:
    poller = select.poll()
    poller.register(fd, event)
    while True:
        left = until - time.monotonic()
        if left <= 0:
            raise Late()
        if poller.poll(left * 1000):
            return


def send_within(connection: Connection, payload: bytes, until: float) -> None:
    """Write one framed message, or raise `Late` at `until` (the pipe being full all along)."""
    if len(payload) > 0x7FFFFFFF:
        raise TooLarge("message too large to send")
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    fd = connection.fileno()
    os.set_blocking(fd, False)
    try:
        while data:
            _wait(fd, select.POLLOUT, until)
            try:
                data = data[os.write(fd, data):]
            except BlockingIOError:
                continue
    finally:
        os.set_blocking(fd, True)


def _read(fd: int, size: int, until: float) -> bytes:
    chunks, got = [], 0
    while got < size:
        _wait(fd, select.POLLIN, until)
        chunk = os.read(fd, min(size - got, _CHUNK))
        if not chunk:
            raise EOFError("the worker closed its end")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_within(connection: Connection, limit: int, until: float) -> bytes:
    """Read one framed message of at most `limit` bytes, or raise `Late` at `until`."""
    fd = connection.fileno()
    (size,) = _HEADER.unpack(_read(fd, _HEADER.size, until))
    if size < 0 or size > limit:  # -1 announces a size past 2 GiB: larger than any limit here
        raise TooLarge(f"the worker announced a message of {size} bytes")
    return _read(fd, size, until)
