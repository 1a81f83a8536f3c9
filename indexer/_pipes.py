"""The pipes between the indexer and its processes (``indexer.pipeline``: the writer and fetch processes): messages
framed as 8 bytes of length then ``marshal``, and a child's death with its parent.

Standard library only, and nothing else: the fetch process imports this before it can answer, and a catch-up waits
for its first answer.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import signal
from typing import IO, Any

__all__ = ["die_with_parent", "receive", "send"]


def send(stream: IO[bytes], message: Any) -> None:
    """One message: 8 bytes of length, then its ``marshal`` form (plain values only: tuples, lists, str, int, bool,
    None; twice as fast as pickle for rows, and both ends are the same interpreter)."""
    data = marshal.dumps(message)
    stream.write(len(data).to_bytes(8, "little"))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message; EOFError when the other side is gone."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the other side closed the pipe")
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe mid-message")
    return marshal.loads(data)  # noqa: S302 - from our own parent, over a private pipe


def die_with_parent(parent: int) -> None:
    """Linux: be killed when the indexer dies (a SIGKILLed indexer must not leave a child process behind)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes  # here: only a child calls this, once

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(1)
