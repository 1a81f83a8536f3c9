"""Scale-out benchmark: relayed actions per second through one gateway and through two behind nginx, both on
PostgreSQL, in one run, and the failover gap when one of the two dies.

On a fresh in-memory anvil with the system deployed and ``3 x --procurements`` procurements (evidence on their
three milestones, a 3-of-3 panel drawn from six evaluators), a PostgreSQL server (pgserver) and two gateway
processes (uvicorn, each with a relayer account of its own) behind nginx (scripts/gateway_cluster.py):

* ``one_gateway_actions_per_s``: the first third's attestations (9 per procurement) sent straight to gateway 0;
* ``two_gateways_actions_per_s``: the second third's, through nginx to both;
* ``failover_gap_s``: the third third's, through nginx, gateway 1 SIGKILLed when half of them are answered: the
  longest time from the kill on during which no client got any answer (nginx sends new requests to the
  survivor at once; a POST that was inside the dead gateway is answered 502 and sent again by the client),
  beside ``steady_max_gap_s``, the longest such stretch of the second third (no kill), for comparison;
  ``failover_retries``: requests the clients sent again;
* ``indexer_takeover_s`` and ``indexer_takeover_stall_s`` (median and max): seconds from the active indexer's
  SIGKILL (or SIGSTOP: a stall, as a holder on another machine that dies looks) to the standby indexer holding
  the lease, on the same PostgreSQL server (scripts/bench_standby.py, after the gateways are stopped).

A rate is the attestations accepted (202) over the time from the first POST until every relayer's last
transaction is mined; each third's attestations are then checked on chain (every seat attested exactly once).
The load comes from this process's threads (one per evaluator: GET typed data, sign, POST), on the same cores
as anvil, PostgreSQL, nginx and the gateways: on a 2-core machine two gateways share the cores that one had, so
the figures say whether a second gateway costs throughput and how long a failover is, not how far it scales
on more machines. Run from the repository root: ``nice -n 19 .venv/bin/python scripts/bench_scale.py --json``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable without the editable install
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain import Signer, compile_contracts
from chain.connection import connect
from scripts.bench_gateway import _setup_chain
from scripts.bench_standby import standby_takeover
from scripts.fresh_postgres import temporary_server
from scripts.gateway_cluster import Cluster, RelayRun, memory_anvil, relay_attestations

__all__ = ["main", "measure"]


def _settled_at(rpc_url: str, relayers: Sequence[str], timeout: float = 300.0) -> float:
    """When every relayer's transactions are all mined (perf_counter)."""
    rpc = connect(rpc_url)
    deadline = time.monotonic() + timeout
    while any(rpc.transaction_count(r, "pending") != rpc.transaction_count(r) for r in relayers):
        if time.monotonic() > deadline:
            raise RuntimeError("relayed transactions still not mined")
        time.sleep(0.01)
    return time.perf_counter()


def _attested_seats(rpc_url: str) -> int:
    rpc = connect(rpc_url)
    topic = compile_contracts().codec("MilestoneEscrow").topic("Attested")
    logs = rpc.result("eth_getLogs", [{"fromBlock": "0x0", "toBlock": "latest", "topics": [topic]}])
    seats = {(log["address"].lower(), log["topics"][1], log["topics"][2]) for log in logs}
    if len(seats) != len(logs):
        raise RuntimeError(f"{len(logs) - len(seats)} seats attested twice")
    return len(seats)


def _longest_silence(run: RelayRun, since: float) -> float:
    """The longest stretch from ``since`` until the last answer with no answer to any client."""
    times = sorted(t for t in run.answer_times if t >= since)
    points = [since, *times]
    return max((b - a for a, b in itertools.pairwise(points)), default=0.0)


def _phase(
    rpc_url: str,
    base: str,
    accounts: dict[str, Signer],
    procurements: Sequence[tuple[bytes, tuple[str, ...]]],
    relayers: Sequence[str],
    on_answer: Callable[[int], None] = lambda count: None,
) -> tuple[RelayRun, float]:
    run = relay_attestations(base, accounts, procurements, on_answer=on_answer)
    if run.failures:
        raise RuntimeError(f"{len(run.failures)} attestations failed, e.g. {run.failures[0]}")
    elapsed = _settled_at(rpc_url, relayers) - run.first_post
    return run, len(run.accepted) / elapsed


def measure(procurements: int, kills: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The whole benchmark in a temporary directory; the numbers."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        root = Path(tmp)
        stack = contextlib.ExitStack()
        admin_url = stack.enter_context(temporary_server("bench-scale-pg-"))
        node = memory_anvil(root)
        cluster: Cluster | None = None
        try:
            log(f"anvil at {node.url}; deploying and creating {3 * procurements} procurements")
            accounts, _, relay = _setup_chain(node.url, root / "var", 0, 3 * procurements, 6, mirror=False)
            thirds = [relay[i * procurements : (i + 1) * procurements] for i in range(3)]
            db_url = admin_url  # the server's own database: this run is alone on it
            cluster = Cluster(root, node.url, db_url, root / "var", 2, PROCURE_SIGN_IN_BURST="1000")
            cluster.start()
            relayers = [r.address for r in cluster.relayers]
            numbers: dict[str, Any] = {}

            log(f"one gateway: {9 * procurements} attestations straight to it")
            one, numbers["one_gateway_actions_per_s"] = _phase(
                node.url, cluster.gateways[0].url, accounts, thirds[0], relayers
            )
            log(f"two gateways behind nginx: {9 * procurements} attestations")
            two, numbers["two_gateways_actions_per_s"] = _phase(node.url, cluster.url, accounts, thirds[1], relayers)
            numbers["steady_max_gap_s"] = _longest_silence(two, two.first_post)

            log(f"failover: {9 * procurements} attestations through nginx, gateway 1 SIGKILLed halfway")
            killed: list[float] = []

            victim = cluster.gateways[1]

            def kill_halfway(count: int) -> None:
                if count >= 9 * procurements // 2 and not killed:
                    killed.append(time.perf_counter())
                    victim.kill()

            failover, numbers["failover_actions_per_s"] = _phase(
                node.url, cluster.url, accounts, thirds[2], relayers, kill_halfway
            )
            numbers["failover_gap_s"] = _longest_silence(failover, killed[0])
            numbers["failover_retries"] = failover.retries
            attested = _attested_seats(node.url)
            if attested != 27 * procurements:
                raise RuntimeError(f"{attested} seats attested on chain, {27 * procurements} expected")
            numbers["attestations_checked_on_chain"] = attested
            numbers["accepted"] = len(one.accepted) + len(two.accepted) + len(failover.accepted)
            cluster.stop()
            cluster = None
            log(f"standby indexer: {kills} takeovers after a SIGKILL and {kills} after a stall, on the same server")
            numbers.update(standby_takeover(kills, postgres_url=admin_url, log=log))
            return {key: round(value, 3) if isinstance(value, float) else value for key, value in numbers.items()}
        finally:
            if cluster is not None:
                cluster.stop()
            node.stop()
            stack.close()


def main(argv: list[str] | None = None) -> int:
    """Parse options, run, print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--procurements",
        type=int,
        default=40,
        help="procurements per third (9 attestations each; the dev budget authority covers about 130 in all)",
    )
    parser.add_argument("--kills", type=int, default=3, help="standby indexer takeovers of each kind (SIGKILL, stall)")
    parser.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    numbers = measure(args.procurements, args.kills, log)
    if args.json:
        print(json.dumps(numbers))
    else:
        for key, value in numbers.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
