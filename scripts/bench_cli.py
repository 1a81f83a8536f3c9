"""Benchmark a `procure` command's own overhead: a read-only chain command and a client read, each run as a fresh
process as a person at a terminal runs it, ``--runs`` times.

    .venv/bin/python scripts/bench_cli.py [--json] [--runs N]

1. anvil (in memory) with the system deployed and the dev cast seeded (``scripts.bench_indexer``), and the gateway
   (uvicorn, as ``procure serve``) on it.
2. ``procure org show MOD`` (one registry read over JSON-RPC) and ``procure client whoami`` (sign in to the gateway
   with a dev key, then one read) are each run ``--runs`` times; for each, the wall-clock time and the CPU time of
   the process (user + system, from ``wait4``), minimum and median. The RPC and HTTP calls themselves take a few
   milliseconds on a local node: what remains is the command's own cost (interpreter, imports, key, decoding).
   Target (issue 13): a command's own overhead under 0.5 s.

Run it with ``nice -n 19`` on a shared machine: wall-clock times vary with what else runs, CPU times much less.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from chain import dev_account, project_root
from chain.devnet import DEV_INDEX
from chain.node import free_port
from scripts.bench_gateway import _gateway_env, _start_gateway
from scripts.bench_indexer import running_anvil

COMMANDS = {"org_show": ["org", "show", "MOD"], "client_whoami": ["client", "whoami"]}


def time_command(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `procure ARGS` once in a fresh interpreter; (wall seconds, CPU seconds of that process)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.cli", *args],
        cwd=project_root(),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    out, err = process.communicate()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise click.ClickException(f"`procure {' '.join(args)}` failed: {(err or out).decode().strip()}")
    return wall, usage.ru_utime + usage.ru_stime


def _summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    walls, cpus = [wall for wall, _ in samples], [cpu for _, cpu in samples]
    return {
        "wall_min_s": round(min(walls), 3),
        "wall_median_s": round(statistics.median(walls), 3),
        "cpu_min_s": round(min(cpus), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
    }


def run(runs: int, log: Any) -> dict[str, Any]:
    """The whole benchmark; returns the result object."""
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        work = Path(folder)
        with running_anvil(work, persistent=False) as chain:
            chain_id = chain.rpc.chain_id
            port = free_port()
            accounts = {"relayer": dev_account(DEV_INDEX["relayer"], chain_id)}
            env = _gateway_env(chain.node.url, work, accounts, port)
            env |= {"PROCURE_VAR": str(chain.var_dir), "PROCURE_DB_URL": f"sqlite:///{work / 'ledger.db'}"}
            gateway = _start_gateway(env, port, work, start_s=600)
            try:
                env |= {"PROCURE_GATEWAY_URL": f"http://127.0.0.1:{port}", "PROCURE_DEV_ACCOUNT": "8"}
                result: dict[str, Any] = {"runs": runs}
                for name, args in COMMANDS.items():
                    time_command(args, env)  # warm the file cache and the compiled-contracts cache
                    samples = [time_command(args, env) for _ in range(runs)]
                    result[name] = _summary(samples)
                    log(f"procure {' '.join(args)}: {result[name]}")
                return result
            finally:
                gateway.terminate()
                try:
                    gateway.wait(10)
                except subprocess.TimeoutExpired:
                    gateway.kill()


@click.command()
@click.option("--runs", type=click.IntRange(1), default=10, show_default=True, help="Runs of each command.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object only.")
def main(runs: int, as_json: bool) -> None:
    """Time `procure org show` and `procure client whoami`, each in a fresh process, and print their costs."""

    def log(line: str) -> None:
        click.echo(line, err=True)

    result = run(runs, log)
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:<14} {value}")


if __name__ == "__main__":
    main()
