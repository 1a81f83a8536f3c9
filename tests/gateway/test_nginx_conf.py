"""`procure nginx-conf`: a configuration nginx itself accepts, that replaces X-Forwarded-For and streams unbuffered;
a bad address is one clear line. (nginx in front of real gateways: tests/integration/test_gateways_behind_nginx.py.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from scripts.cli_gateway import nginx_conf
from scripts.gateway_cluster import NGINX


def test_the_configuration_replaces_the_clients_forwarded_for_and_streams_unbuffered(tmp_path: Path) -> None:
    args = ["--gateway", "127.0.0.1:8001", "--gateway", "[::1]:8002", "--listen", "127.0.0.1:8080"]
    done = CliRunner().invoke(nginx_conf, [*args, "--prefix", str(tmp_path)])
    assert done.exit_code == 0, done.output
    text = done.output
    assert "server 127.0.0.1:8001 " in text
    assert "server [::1]:8002 " in text
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text  # never $proxy_add_x_forwarded_for
    assert "proxy_add_x_forwarded_for" not in text
    for stream in ("location = /budget/stream {", "location /ui/live/ {"):
        block = text.split(stream, 1)[1].split("}", 1)[0]
        assert "proxy_buffering off;" in block
    assert f"pid {tmp_path.resolve()}/nginx.pid;" in text
    if NGINX.exists() or os.environ.get("CI") == "true":  # nginx -t (Debian's nginx-light; CI installs it)
        config = tmp_path / "nginx.conf"
        config.write_text(text)
        checked = subprocess.run(
            [str(NGINX), "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--gateway", "127.0.0.1"], "'127.0.0.1' is not HOST:PORT"),
        (["--gateway", "127.0.0.1:99999"], "'127.0.0.1:99999' is not HOST:PORT"),
        (["--gateway", "evil;host:80"], "is not an IP address or a host name"),
        (["--gateway", "127.0.0.1:8001", "--listen", "0.0.0.0:x"], "'0.0.0.0:x' is not HOST:PORT"),
    ],
)
def test_a_bad_address_is_one_clear_line(args: list[str], said: str) -> None:
    done = CliRunner().invoke(nginx_conf, args)
    assert done.exit_code == 1
    assert said in done.output
    assert "Traceback" not in done.output
