"""Who is calling: the client address that per-client limits key on.

It is the socket's peer address, unless that peer is one of the proxies the operator trusts
(``PROCURE_TRUSTED_PROXIES``): then it is the address that proxy appended to ``X-Forwarded-For`` (read from the
right, past any further trusted proxies). A header from anyone else is ignored, so a client cannot pick its
own key. IPv6 clients are keyed by their /64, the block one subscriber usually holds.

The peer must reach the app as the socket saw it. uvicorn, by default, replaces it with the last entry of
``X-Forwarded-For`` when the connection comes from loopback; ``procure serve`` turns that off (run bare
uvicorn with ``--no-proxy-headers``). Should it still happen, the peer shows up among the header's own entries:
such requests share one key (``unverified-proxy``), so that forged headers only ever limit each other, and a
warning says how to fix the setup.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable, Sequence

__all__ = ["UNVERIFIED_PROXY", "ClientAddress"]

UNVERIFIED_PROXY = "unverified-proxy"
_log = logging.getLogger("gateway.client_address")

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(value: str) -> _Address | None:
    """An address from a peer or a header entry (``1.2.3.4``, ``1.2.3.4:56``, ``::1``, ``[::1]:56``)."""
    value = value.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _key(address: _Address) -> str:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class ClientAddress:
    """Computes the rate-limit key of a request from its peer and its ``X-Forwarded-For`` values."""

    def __init__(self, trusted_proxies: Sequence[str] = ()) -> None:
        self.trusted: tuple[_Network, ...] = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        self._warned = False

    def _is_trusted(self, address: _Address) -> bool:
        return any(address in network for network in self.trusted)

    def __call__(self, peer: str | None, forwarded_for: Iterable[bytes] = ()) -> str:
        """The client's key: its address (or its /64), or ``unknown`` without a peer."""
        address = None if peer is None else _parse(peer)
        if address is None:
            return "unknown" if peer is None else peer[:64]
        entries = [entry for value in forwarded_for for entry in value.decode("latin-1").split(",") if entry.strip()]
        if not entries:
            return _key(address)
        if self._is_trusted(address):
            hop = address
            for entry in reversed(entries):
                claimed = _parse(entry)
                if claimed is None:  # garbage before a trusted hop: that hop is all we know
                    return _key(hop)
                if not self._is_trusted(claimed):
                    return _key(claimed)
                hop = claimed
            return _key(hop)
        if any(_parse(entry) == address for entry in entries):
            if not self._warned:
                self._warned = True
                _log.warning(
                    "the ASGI server seems to replace client addresses with X-Forwarded-For: run uvicorn with "
                    "--no-proxy-headers and name the proxies in PROCURE_TRUSTED_PROXIES; such requests now "
                    "share one rate-limit key"
                )
            return UNVERIFIED_PROXY
        return _key(address)
