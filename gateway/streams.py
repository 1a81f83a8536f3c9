"""Server-sent event streams: how many an account may hold open (the API's budget stream and the dashboard's live
pages count together), and the session and roles checked again on every poll of a stream.

Each open stream polls the mirror several times a second: an account may hold a few, the process a bounded
number. A slot is released once: when its stream ends, or when its response is dropped without ever being
iterated (a client gone before the first byte).
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from dataclasses import dataclass

from gateway.core.state import GatewayState
from gateway.errors import NotAuthenticated, TooManyRequests
from gateway.identity import MirrorVersion, Principal

__all__ = ["MAX_STREAMS", "MAX_STREAMS_PER_ACCOUNT", "Live", "StreamSlot", "held", "open_slot", "recheck"]

MAX_STREAMS_PER_ACCOUNT = 4
MAX_STREAMS = 256
_streams: Counter[str] = Counter()
_lock = threading.Lock()


class StreamSlot:
    """One open stream of an account."""

    def __init__(self, account: str) -> None:
        self.account = account
        self._held = True

    def release(self) -> None:
        """Give the slot back (once; later calls do nothing)."""
        with _lock:
            if self._held:
                self._held = False
                _streams[self.account] -= 1
                if _streams[self.account] <= 0:
                    del _streams[self.account]

    def bind(self, events: object) -> None:
        """Release the slot when ``events`` (the response's iterator) is dropped, iterated or not."""
        weakref.finalize(events, self.release)


def open_slot(address: str) -> StreamSlot:
    """A stream slot for ``address``; TooManyRequests if it holds its share, or the process is full."""
    account = address.lower()
    with _lock:
        if _streams[account] >= MAX_STREAMS_PER_ACCOUNT or sum(_streams.values()) >= MAX_STREAMS:
            raise TooManyRequests(
                f"too many open streams (at most {MAX_STREAMS_PER_ACCOUNT} per account): close one first", 5
            )
        _streams[account] += 1
    return StreamSlot(account)


def held(address: str) -> int:
    """How many streams ``address`` holds open now."""
    with _lock:
        return _streams.get(address.lower(), 0)


@dataclass(frozen=True)
class Live:
    """A stream's caller as of the mirror's version now."""

    principal: Principal
    mirror: MirrorVersion


def recheck(state: GatewayState, token: str, live: Live) -> Live:
    """The session checked again and the caller's roles as of the mirror's version now; NotAuthenticated once the
    session is over or the account holds no active role."""
    with state.engine.connect() as conn:
        session = state.auth.check(conn, token)
    principal, mirror = live.principal, live.mirror
    if session.mirror is not None and session.mirror != mirror:
        mirror = session.mirror
        principal = state.directory.cached(session.address, mirror) or state.directory.lookup(session.address, mirror)
    if not principal.known:
        raise NotAuthenticated(f"{session.address} no longer holds an active role in the registry")
    return Live(principal, mirror)
