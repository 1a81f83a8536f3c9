"""CPU time of the indexer benchmark's steps (catch-up into SQLite, into PostgreSQL, replay + verify) on a chain
that is already running.

    python scripts/profile_indexer.py --rpc-url URL --var DIR generate [--events 100000]
    python scripts/profile_indexer.py --rpc-url URL --var DIR measure [--node-pid PID] [--profile-dir DIR]

``generate`` deploys the system on the node at ``--rpc-url`` (manifest under ``--var``), seeds the dev cast and
generates events as ``scripts/bench_indexer.py`` does. ``measure`` runs the benchmark's steps in its order, in one
process: a catch-up into SQLite, one into a fresh temporary PostgreSQL server, then replay + verify. Wall-clock rates
are noisy on a shared machine; CPU time changes much less with other work, so each step reports the CPU seconds of
this process (all threads), of its child processes (the SQLite writer), of the PostgreSQL server's processes and,
given ``--node-pid``, of the node. ``--profile-dir`` also writes a cProfile of each step's main thread
(``sqlite.prof``, ``postgres.prof``, ``replay_verify.prof``).
"""

from __future__ import annotations

import cProfile
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from chain import Build, ChainSource, JsonRpc, SystemAddresses, compile_contracts, connect, load_manifest, manifest_path
from indexer.audit import verify
from indexer.schema import make_engine
from indexer.sync import Indexer, SyncConfig
from scripts._common import clean_errors
from scripts.fresh_postgres import temporary_server_process


@dataclass
class Cpu:
    """CPU seconds of one step."""

    own_s: float
    children_s: float
    server_s: float
    node_s: float
    wall_s: float

    def as_json(self) -> dict[str, float]:
        return {
            "own_cpu_s": round(self.own_s, 2),
            "children_cpu_s": round(self.children_s, 2),
            "server_cpu_s": round(self.server_s, 2),
            "node_cpu_s": round(self.node_s, 2),
            "wall_s": round(self.wall_s, 2),
        }


def _descendants_cpu(pid: int | None, *, itself: bool = False) -> float:
    """CPU seconds of process ``pid``'s descendants, the running and the ended ones (and its own if ``itself``)."""
    if pid is None:
        return 0.0
    import psutil  # type: ignore[import-untyped]  # pgserver's dependency

    root = psutil.Process(pid)
    times = root.cpu_times()
    total = float(times.children_user + times.children_system)
    if itself:
        total += times.user + times.system
    for child in root.children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _measured(
    step: Callable[[], Any], server_pid: int | None, node_pid: int | None, profile: Path | None
) -> tuple[Any, Cpu]:
    """Run ``step``; its result and the CPU seconds it took (here, in child processes, in the database server's
    and in the node's)."""

    def children() -> float:
        return _descendants_cpu(os.getpid())

    def server() -> float:
        return _descendants_cpu(server_pid, itself=True)

    def node() -> float:
        return _descendants_cpu(node_pid, itself=True)

    own, spawned, served, noded = time.process_time(), children(), server(), node()
    wall = time.perf_counter()
    profiler = cProfile.Profile() if profile is not None else None
    if profiler is not None:
        profiler.enable()
    try:
        result = step()
    finally:
        if profiler is not None:
            profiler.disable()
    cpu = Cpu(
        own_s=time.process_time() - own,
        children_s=children() - spawned,
        server_s=server() - served,
        node_s=node() - noded,
        wall_s=time.perf_counter() - wall,
    )
    if profiler is not None and profile is not None:
        profiler.dump_stats(profile)
    return result, cpu


def _catch_up(
    rpc: JsonRpc,
    system: SystemAddresses,
    build: Build,
    url: str,
    pids: tuple[int | None, int | None],
    profile: Path | None,
) -> tuple[int, Cpu]:
    """A catch-up into an empty ``url``, measured as the benchmark times it (the migrations and the lock aside)."""
    engine = make_engine(url)
    try:
        with Indexer(engine, ChainSource(rpc), system, build, SyncConfig()) as indexer:
            stats, cpu = _measured(indexer.catch_up, *pids, profile)
            return stats.logs_applied, cpu
    finally:
        engine.dispose()


@click.group()
@click.option("--rpc-url", default=None, help="The node holding the generated chain (needed by every command).")
@click.option(
    "--var",
    "var_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the manifest lives (needed by every command).",
)
@click.pass_context
def main(ctx: click.Context, rpc_url: str | None, var_dir: Path | None) -> None:
    """Measure the CPU time of the indexer's catch-up into PostgreSQL and of replay + verify."""
    ctx.obj = (rpc_url, var_dir)


def _node(options: tuple[str | None, Path | None]) -> tuple[JsonRpc, Path]:
    """The node and the manifest's folder the group's options name: checked and connected here, in the command, so
    that a command's ``--help`` needs neither option nor a running node."""
    rpc_url, var_dir = options
    if rpc_url is None or var_dir is None:
        missing = " and ".join(name for name, value in (("--rpc-url", rpc_url), ("--var", var_dir)) if value is None)
        raise click.UsageError(f"missing {missing} (given before the command)")
    return connect(rpc_url), var_dir


@main.command()
@click.option("--events", type=click.IntRange(100), default=100_000, show_default=True, help="Events to generate.")
@click.pass_obj
@clean_errors
def generate(obj: tuple[str | None, Path | None], events: int) -> None:
    """Deploy, seed and generate events on the node (once per chain)."""
    from scripts.bench_indexer import Chain, generate_events, setup_chain

    rpc, var_dir = _node(obj)
    # The node runs on its own (it outlives this process): setup_chain only reads its URL.
    chain: Chain = setup_chain(SimpleNamespace(url=rpc.endpoint), var_dir)  # type: ignore[arg-type]
    click.echo(f"generated {generate_events(chain, events)} events", err=True)


@main.command()
@click.option(
    "--profile-dir", type=click.Path(path_type=Path, file_okay=False), default=None, help="Write cProfile dumps here."
)
@click.option("--node-pid", type=int, default=None, help="The node's process id, to count its CPU time too.")
@click.pass_obj
@clean_errors
def measure(obj: tuple[str | None, Path | None], profile_dir: Path | None, node_pid: int | None) -> None:
    """Print one JSON object: the CPU seconds of each step, run in scripts/bench_indexer.py's order."""
    rpc, var_dir = _node(obj)
    system = load_manifest(manifest_path(var_dir, rpc.chain_id))
    if system is None:
        raise click.ClickException(f"no manifest under {var_dir}: run `generate` first")
    build = compile_contracts()
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)

    def dump(name: str) -> Path | None:
        return profile_dir / f"{name}.prof" if profile_dir is not None else None

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="profile-sqlite-") as folder:
        sqlite_url = f"sqlite:///{Path(folder) / 'mirror.db'}"
        applied, cpu = _catch_up(rpc, system, build, sqlite_url, (None, node_pid), dump("sqlite"))
        result["sqlite"] = {"events": applied, **cpu.as_json()}
        with temporary_server_process("profile-pg-") as server:
            applied, cpu = _catch_up(rpc, system, build, server.url, (server.pid, node_pid), dump("postgres"))
        result["postgres"] = {"events": applied, **cpu.as_json()}
        engine = make_engine(sqlite_url)
        try:
            report, cpu = _measured(
                lambda: verify(engine, ChainSource(rpc), system, build), None, node_pid, dump("replay_verify")
            )
        finally:
            engine.dispose()
        result["replay_verify"] = {"differences": len(report.differences), **cpu.as_json()}
    click.echo(json.dumps(result))


if __name__ == "__main__":
    main()
