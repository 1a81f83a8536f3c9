"""Connecting to a chain over HTTP: ``JsonRpc``, the HTTP transport, and ``connect``, which checks that a node
answers."""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from chain.errors import ChainError, ConfigurationError
from chain.transport import Transport

__all__ = ["DEFAULT_PORT", "DEFAULT_RPC_URL", "JsonRpc", "connect"]

# The local dev node's address (``chain.node`` starts it there): here, not in ``chain.node``, because the indexer's
# fetch process imports this module and not the node's (subprocess, shutil, ... would only delay its start).
DEFAULT_PORT = 8545
DEFAULT_RPC_URL = f"http://127.0.0.1:{DEFAULT_PORT}"


def connect(rpc_url: str, *, timeout: float = 30.0) -> JsonRpc:
    """The transport to the node at ``rpc_url`` (http or https), checked to answer."""
    if not rpc_url.startswith(("http://", "https://")):
        raise ConfigurationError(f"RPC URL must start with http:// or https://, got {rpc_url!r}")
    rpc = JsonRpc(rpc_url, timeout=timeout)
    try:
        rpc.chain_id  # noqa: B018 - the call is the connectivity check
    except Exception as exc:
        raise ChainError(f"no Ethereum node answers at {rpc_url}: {type(exc).__name__}") from None
    return rpc


class JsonRpc(Transport):
    """The HTTP transport: JSON-RPC over one kept-alive HTTP/1.1 connection per thread.

    web3's stack (middleware, formatters, ``requests``) costs about a millisecond of CPU per call, and even
    ``http.client`` parses every reply's headers with the email package; the relay's hot path (simulation,
    send, receipts, fees) makes several calls per action. This speaks just enough HTTP/1.1 for a JSON-RPC
    node: one POST (with Basic authentication if the URL holds a user), a reply with Content-Length or
    chunked. Replies come back as the node sent them (``{"result": ...}`` or ``{"error": ...}``); a transport
    failure raises ``ConnectionError`` (or ``TimeoutError``), which callers retry.
    """

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"not an http(s) JSON-RPC URL: {url!r}")
        super().__init__(url)
        self.url = url
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        auth = ""
        if parts.username:
            user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            auth = f"Authorization: Basic {base64.b64encode(user.encode()).decode('ascii')}\r\n"
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
            "Accept: application/json\r\nContent-Length: "
        ).encode("ascii")
        self._local = threading.local()
        self._ids = itertools.count(1)

    def _socket(self) -> socket.socket:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        if sock is None:
            sock = socket.create_connection((self._host, self._port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._https:
                import ssl  # here: a local node speaks plain HTTP

                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self._host)
            self._local.sock = sock
        return sock

    def _close(self) -> None:
        sock = getattr(self._local, "sock", None)
        self._local.sock = None
        if sock is not None:
            sock.close()

    def _post(self, payload: Any) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        message = self._head + str(len(body)).encode("ascii") + b"\r\n\r\n" + body
        for attempt in (0, 1):
            reused = getattr(self._local, "sock", None) is not None
            try:
                sock = self._socket()
                sock.sendall(message)
                status, data, keep = _read_reply(sock)
            except TimeoutError:
                self._close()
                raise
            except (OSError, ValueError) as exc:
                self._close()
                # A kept-alive connection the node closed while idle fails at once: one fresh try. (Every
                # call here is safe to repeat: a raw transaction re-sent is the same signed bytes.)
                if reused and attempt == 0:
                    continue
                raise ConnectionError(f"JSON-RPC request to {self.url} failed: {exc}") from exc
            if not keep:
                self._close()
            if status != 200 and not data.lstrip().startswith((b"{", b"[")):
                raise ConnectionError(f"JSON-RPC request to {self.url} answered HTTP {status}")
            return json.loads(data)
        raise AssertionError("unreachable")

    def request(self, method: str, params: list[Any]) -> dict[str, Any]:
        """One call; the node's reply object."""
        reply = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        if not isinstance(reply, dict):
            raise ChainError(f"malformed JSON-RPC reply to {method}: {str(reply)[:200]}")
        return reply

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Several calls in one round trip; the replies in the order of ``calls``."""
        if not calls:
            return []
        first = next(self._ids)
        ids = [first, *(next(self._ids) for _ in calls[1:])]
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, calls, strict=True)]
        replies = self._post(payload)
        if not isinstance(replies, list):  # a node that does not batch answers with one error object
            raise ChainError(f"the node does not answer JSON-RPC batches: {str(replies)[:200]}")
        by_id = {reply.get("id"): reply for reply in replies if isinstance(reply, dict)}
        missing: dict[str, Any] = {"error": {"code": -32603, "message": "no reply in the batch"}}
        return [by_id.get(i, missing) for i in ids]


def _read_reply(sock: socket.socket) -> tuple[int, bytes | bytearray, bool]:
    """One HTTP/1.1 reply: (status, body, whether the connection stays open). ValueError if malformed.

    Linear in the reply's size: a large ``eth_getLogs`` answer (tens of megabytes) is read into one buffer
    rather than grown by concatenation.
    """
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the node closed the connection")
        buffer += chunk
        if len(buffer) > 65536 and b"\r\n\r\n" not in buffer:
            raise ValueError("reply headers too long")
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status_line = lines[0].split(None, 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise ValueError(f"not an HTTP reply: {lines[0][:80]!r}")
    status = int(status_line[1])
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep = headers.get(b"connection", b"").lower() != b"close" and status_line[0] != b"HTTP/1.0"
    if b"content-length" in headers:
        length = int(headers[b"content-length"])
        if len(rest) >= length:
            return status, rest[:length], keep and len(rest) == length
        body = bytearray(length)
        body[: len(rest)] = rest
        view, have = memoryview(body), len(rest)
        while have < length:
            got = sock.recv_into(view[have:], min(length - have, 1 << 20))
            if not got:
                raise ConnectionResetError("the node closed the connection mid-reply")
            have += got
        return status, body, keep
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        chunked, extra = _read_chunked(sock, rest)
        return status, chunked, keep and not extra
    whole = bytearray(rest)
    while True:  # neither: the body runs until the node closes the connection
        chunk = sock.recv(65536)
        if not chunk:
            return status, whole, False
        whole += chunk


def _read_chunked(sock: socket.socket, rest: bytes) -> tuple[bytearray, bytes]:
    """A chunked body (and whatever followed it); the buffer is consumed from ``at``, compacted now and then."""
    body = bytearray()
    buffer = bytearray(rest)
    at = 0

    def receive() -> None:
        nonlocal at
        if at > 1 << 20:
            del buffer[:at]
            at = 0
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionResetError("the node closed the connection mid-reply")
        buffer.extend(chunk)

    def line() -> bytes:
        nonlocal at
        while (end := buffer.find(b"\r\n", at)) < 0:
            receive()
        text = bytes(buffer[at:end])
        at = end + 2
        return text

    while True:
        size = int(line().split(b";")[0].strip(), 16)
        if size == 0:
            line()  # no trailers expected: the empty line that ends the reply
            return body, bytes(buffer[at:])
        while len(buffer) - at < size + 2:
            receive()
        body += buffer[at : at + size]
        at += size + 2
