"""Local nonce management: consecutive nonces per key, so that many transactions of one key are in flight at once."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["NonceBook", "NonceManager"]


class NonceManager:
    """Hands out consecutive nonces for one key, starting from the chain's pending count.

    A nonce whose transaction the node refused is given back (``release``): if it was the last one handed
    out the counter steps back; otherwise (later ones are already in flight) it is kept aside and handed out
    first, so the gap is filled by the next transaction rather than stalling the ones behind it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: int | None = None
        self._released: set[int] = set()

    def take(self, fetch: Callable[[], int]) -> int:
        """The next nonce; ``fetch`` asks the chain for the pending count when none is known."""
        with self._lock:
            if self._released:
                nonce = min(self._released)
                self._released.discard(nonce)
                return nonce
            if self._next is None:
                self._next = fetch()
            nonce = self._next
            self._next += 1
            return nonce

    def release(self, nonce: int) -> bool:
        """Give back an unused nonce; True if no gap is left behind (it was the last one handed out)."""
        with self._lock:
            if self._next is None or nonce >= self._next:
                return True
            if nonce == self._next - 1:
                self._next = nonce
                while self._next - 1 in self._released:
                    self._next -= 1
                    self._released.discard(self._next)
                return True
            self._released.add(nonce)
            return False

    def claim(self, nonce: int) -> bool:
        """Take back a released nonce to fill its gap now; False if a new transaction took it already."""
        with self._lock:
            if nonce in self._released:
                self._released.discard(nonce)
                return True
            return False

    def reset(self) -> None:
        """Ask the chain for the next nonce next time."""
        with self._lock:
            self._next = None
            self._released.clear()


class NonceBook:
    """The nonce managers of every key that sends through one node (a ``Transport`` owns one book).

    Every sender of a key on that node shares its manager, so two senders of one key never hand out the same
    nonce; ``forget`` makes them all ask the chain again (after a snapshot revert or a node restart).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._managers: dict[str, NonceManager] = {}

    def of(self, address: str) -> NonceManager:
        """The manager of ``address`` (any case)."""
        with self._lock:
            return self._managers.setdefault(address.lower(), NonceManager())

    def forget(self) -> None:
        """Make every manager ask the chain for its next nonce."""
        with self._lock:
            managers = list(self._managers.values())
        for manager in managers:
            manager.reset()
