"""`procure serve`: builds the app for the chain in the context and hands it to uvicorn (stubbed here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from fastapi import FastAPI

from chain.deployment import manifest_path
from scripts._common import Context
from scripts.cli_gateway import serve
from tests.world import World


@click.group()
def _group() -> None:
    """A stand-in for the `procure` group."""


_group.add_command(serve)


def _context(world: World, tmp_path: Path) -> Context:
    path = manifest_path(tmp_path, world.system.chain_id)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(world.system.to_json()), encoding="utf-8")
    return Context(var_dir=tmp_path, transport=world.rpc, account=world.accounts["outsider"], _build=world.build)


def test_serve_builds_the_app_and_runs_uvicorn_on_loopback(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run(app: FastAPI, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr("uvicorn.run", fake_run)
    result = CliRunner().invoke(_group, ["serve", "--port", "8123"], obj=_context(world, tmp_path))
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert call["host"] == "127.0.0.1"
    assert call["port"] == 8123
    assert call["proxy_headers"] is False  # the gateway decides whom to believe about client addresses
    state = call["app"].state.gateway
    assert state.settings.siwe_domain == "localhost:8123"
    assert state.ledger.relayer.address == world.accounts["outsider"].address


def test_serve_read_only_loads_no_relayer(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    apps: list[FastAPI] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: apps.append(app))
    result = CliRunner().invoke(_group, ["serve", "--read-only"], obj=_context(world, tmp_path))
    assert result.exit_code == 0, result.output
    assert apps[0].state.gateway.ledger.relayer is None


def test_serve_without_a_deployment_prints_one_line(tmp_path: Path, world: World) -> None:
    context = Context(var_dir=tmp_path, transport=world.rpc, _build=world.build)
    result = CliRunner().invoke(_group, ["serve"], obj=context)
    assert result.exit_code == 1
    assert "nothing deployed" in result.output
    assert "Traceback" not in result.output
