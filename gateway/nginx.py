"""nginx in front of several gateways: the configuration ``procure nginx-conf`` writes.

The template is ``gateway/deploy/nginx-gateways.conf`` (the http-context part: one upstream of the gateways, one
server). With a ``prefix`` it is wrapped in a whole nginx.conf whose pid file, logs and temporary folders are
under that folder, so that nginx runs as any user (``nginx -p PREFIX -c PREFIX/nginx.conf``), as the tests run it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

__all__ = ["TEMPLATE", "nginx_conf", "parse_host_port"]

TEMPLATE = Path(__file__).resolve().parent / "deploy" / "nginx-gateways.conf"

_STANDALONE = """# A whole nginx.conf around the gateways' part, everything nginx writes under {prefix}.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;

{body}
}}
"""


def parse_host_port(value: str) -> str:
    """``HOST:PORT`` (an IPv6 host in brackets) as nginx writes it; ValueError naming what is wrong."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not HOST:PORT (a port from 1 to 65535)")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        if not bare or not all(part.isalnum() or part == "-" for part in bare.replace(".", " ").split()):
            raise ValueError(f"{value!r}: {host!r} is not an IP address or a host name") from None
        return f"{bare}:{port}"
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


def nginx_conf(gateways: Sequence[str], listen: str, *, prefix: Path | None = None) -> str:
    """The configuration for ``gateways`` (``HOST:PORT`` each) behind nginx listening on ``listen``."""
    if not gateways:
        raise ValueError("name at least one gateway (HOST:PORT)")
    servers = "\n".join(f"    server {parse_host_port(g)} max_fails=1 fail_timeout=2s;" for g in gateways)
    body = TEMPLATE.read_text().replace("{{servers}}", servers).replace("{{listen}}", parse_host_port(listen))
    if prefix is None:
        return body
    indented = "\n".join(f"    {line}" if line else "" for line in body.splitlines())
    return _STANDALONE.format(prefix=prefix.resolve(), body=indented)
