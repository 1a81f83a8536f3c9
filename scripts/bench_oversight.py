"""Benchmark the oversight exports: the full OCDS record package of a mirror of ``--procurements`` procurements,
streamed, in seconds and peak memory.

    .venv/bin/python scripts/bench_oversight.py [--json] [--procurements N] [--rounds N]

1. A fresh SQLite mirror (the indexer's migrations) is grown **directly in SQL**, as ``scripts/bench_budget.py``
   grows its own (no chain behind these rows): the dev organizations, one budget line, and ``--procurements``
   procurements of three milestones each, obligated on the line; each milestone gets ``--rounds`` rounds of evidence
   and two attestations (failing, except the last round's, which pass) and is paid; every procurement also has one
   amendment proposed and approved. Each event has its milestone-history row, as the indexer writes them. A
   procurement has 7 + 9 x ``--rounds`` events: the default 11 rounds make the target's mirror, 10,000
   procurements and 1,060,000 events.
2. A child process (so that building the mirror does not count) runs the export `procure audit export-ocds
   --auditor` runs: every procurement's releases and its record compiled (``indexer.ocds.compiled``; with
   ``--reference-merge``, by ocdsmerge, as `procure audit export-ocds --reference-merge`), written as one record
   package to a file. Block times are a steady 12 s a block (the node would be asked otherwise).
   ``--workers`` processes compile batches of records side by side (``Export.encoded_records``).
   ``export_s`` and ``export_peak_rss_mb`` (the resident memory of the export's processes together, sampled every
   0.1 s; targets: 60 s and 500 MB), the package's size, and ``export_cpu_s``, the CPU time of the export's
   processes together (on a shared machine the wall time is mostly waiting for a core; this is what it needs).
3. Every red flag of the mirror (``indexer.flags``, default thresholds, the same steady clock): ``flags_s`` (target
   60 s) and how many (every milestone of 50 and 120 million yen is paid to the one supplier a few blocks after
   the previous procurement's: payment-acceptance's duplicate payments trip by design).

Run it with ``nice -n 19`` on a shared machine; timings vary with what else runs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click
from eth_utils.crypto import keccak

from chain.roles import org_id

_CHAIN = 31337
_GENESIS = 1_780_000_000
_ZERO = "0x" + "00" * 32
_ORGS = (("MOD", 0, "Ministry of Defense"), ("NVE", 1, "Nippon Vision Electronics K.K."))
_EVALUATORS = (("ATLA", "0x" + "0a" * 20), ("JQA", "0x" + "0b" * 20), ("NITE", "0x" + "0c" * 20))


def _hex(text: str) -> str:
    return "0x" + keccak(text=text).hex()


def _insert(db: sqlite3.Connection, table: str, columns: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` into ``table`` (the schema's own names only; every value is a parameter)."""
    marks = ", ".join(["?"] * len(columns.split(",")))
    db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608


_HISTORY = (
    "chain_id, tx_hash, log_index, milestone_id, block_number, escrow, event, amount, due_date, status, round, "
    "passes, fails, owed, dispute_lapses_at"
)
_EVENT = "chain_id, tx_hash, log_index, block_number"
_COLUMNS = {
    "procurements": "chain_id, escrow, procurement_id, ministry_org, supplier_org, supplier, officer, panel, quorum, "
    "title, spec_hash, funded, milestone_count, ruling_period, grace_period, block_number, tx_hash, log_index, "
    "total_funded, total_released, total_refunded, total_owed, paused_until",
    "budget_obligations": f"{_EVENT}, escrow, series, fiscal_year, buyer, line_ministry, officer, amount, "
    "line_obligated, escrow_obligated",
    "milestone_history": _HISTORY,
    "evidence": f"{_EVENT}, escrow, milestone_id, round, supplier, document_hash, uri, relayed, relayer",
    "attestations": f"{_EVENT}, escrow, milestone_id, round, evaluator, passed, report_hash, relayed, relayer",
    "payments": f"{_EVENT}, escrow, milestone_id, supplier, amount, kind",
    "amendments": f"{_EVENT}, escrow, amendment_id, milestone_id, proposer, kind, new_amount, new_due_date, "
    "rationale_hash",
    "amendment_approvals": f"{_EVENT}, escrow, amendment_id, milestone_id, approver, kind, old_amount, new_amount, "
    "old_due_date, new_due_date",
}


def grow_mirror(path: Path, procurements: int, rounds: int) -> int:
    """A mirror of ``procurements`` procurements and their events at ``path``; the number of events written."""
    from indexer.schema import make_engine, upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    db = sqlite3.connect(path)
    mod, nve = "0x" + org_id("MOD").hex(), "0x" + org_id("NVE").hex()
    officer, approver, supplier = "0x" + "0f" * 20, "0x" + "0e" * 20, "0x" + "0d" * 20
    panel = json.dumps([address for _, address in _EVALUATORS])
    events = 0
    with db:
        orgs = [(code, kind, name) for code, kind, name in _ORGS] + [(code, 2, code) for code, _ in _EVALUATORS]
        _insert(
            db,
            "organizations",
            "chain_id, org_id, code, kind, name, active, vault, block_number, tx_hash",
            [(_CHAIN, "0x" + org_id(c).hex(), c, str(k), n, 1, officer, 1, _ZERO) for c, k, n in orgs],
        )
        _insert(
            db,
            "accounts",
            "chain_id, account, org_id, block_number",
            [(_CHAIN, address, "0x" + org_id(code).hex(), 1) for code, address in _EVALUATORS],
        )
        codes = ["0x" + org_id(code).hex() for code in ("MOD", "MOD-HQ", "DEF-EQUIP", "EQUIP-PURCHASE")]
        _insert(
            db,
            "budget_series",
            f"{_EVENT}, series, ministry, organization, item, sub_item",
            [(_CHAIN, _ZERO, 0, 1, 1, *codes)],
        )
    block = 2
    batch = 500
    for start in range(0, procurements, batch):
        rows: dict[str, list[tuple[Any, ...]]] = {}

        def add(table: str, row: tuple[Any, ...], rows: dict[str, list[tuple[Any, ...]]] = rows) -> None:
            rows.setdefault(table, []).append(row)

        for i in range(start, min(start + batch, procurements)):
            escrow = "0x" + f"{i + 1:040x}"
            amounts = [30_000_000 + i, 50_000_000, 120_000_000]
            due = [_GENESIS + 86_400 * d for d in (400, 500, 600)]
            tx = _hex(f"create {i}")
            add(
                "procurements",
                (
                    *(
                        _CHAIN,
                        escrow,
                        _hex(f"pid {i}"),
                        mod,
                        nve,
                        supplier,
                        officer,
                        panel,
                        2,
                        f"Bench procurement {i}",
                    ),
                    *(_ZERO, str(sum(amounts)), 3, 2_592_000, 7_776_000, block, tx, 0),
                    *(str(sum(amounts)), str(sum(amounts)), "0", "0", 0),
                ),
            )
            add(
                "budget_obligations",
                (_CHAIN, tx, 1, block, escrow, 1, 2026, mod, mod, officer, *(str(sum(amounts)),) * 3),
            )
            for m, amount in enumerate(amounts):
                add(
                    "milestone_history",
                    (
                        *(
                            _CHAIN,
                            tx,
                            0,
                            m,
                            block,
                            escrow,
                            "ProcurementCreated",
                            str(amount),
                            due[m],
                            "Pending",
                            0,
                            0,
                            0,
                        ),
                        *("0", 0),
                    ),
                )
            events += 2
            for m, amount in enumerate(amounts):
                for r in range(1, rounds + 1):
                    block += 1
                    passed = r == rounds
                    etx = _hex(f"evidence {i} {m} {r}")
                    add(
                        "evidence",
                        (_CHAIN, etx, 0, block, escrow, m, r, supplier, _hex(f"doc {i} {m} {r}"), "ipfs://x", 0, None),
                    )
                    add(
                        "milestone_history",
                        (
                            *(_CHAIN, etx, 0, m, block, escrow, "EvidenceSubmitted", str(amount), due[m], "Submitted"),
                            *(r, 0, 0, "0", 0),
                        ),
                    )
                    for k, (_, evaluator) in enumerate(_EVALUATORS[:2]):
                        atx = _hex(f"attest {i} {m} {r} {k}")
                        add(
                            "attestations",
                            (
                                _CHAIN,
                                atx,
                                0,
                                block,
                                escrow,
                                m,
                                r,
                                evaluator,
                                int(passed),
                                _hex(f"report {i} {m} {r} {k}"),
                                0,
                                None,
                            ),
                        )
                        status = ("Paid" if k else "Submitted") if passed else ("Rejected" if k else "Submitted")
                        add(
                            "milestone_history",
                            (
                                *(_CHAIN, atx, 0, m, block, escrow, "Attested", str(amount), due[m], status, r),
                                *(k + 1 if passed else 0, 0 if passed else k + 1, "0", 0),
                            ),
                        )
                    events += 3
                ptx = _hex(f"attest {i} {m} {rounds} 1")
                add("payments", (_CHAIN, ptx, 1, block, escrow, m, supplier, str(amount), "released"))
                events += 1
            block += 1
            ptx, atx = _hex(f"propose {i}"), _hex(f"approve {i}")
            add(
                "amendments",
                (_CHAIN, ptx, 0, block, escrow, 0, 2, officer, "due", "0", str(due[2] + 86_400), _hex(f"why {i}")),
            )
            add(
                "amendment_approvals",
                (
                    *(_CHAIN, atx, 0, block, escrow, 0, 2, approver, "due"),
                    *("120000000",) * 2,
                    *(str(due[2]), str(due[2] + 86_400)),
                ),
            )
            events += 2
        with db:
            for table, columns in _COLUMNS.items():
                _insert(db, table, columns, rows[table])
    db.close()
    return events


def _steady(blocks: Sequence[int]) -> Mapping[int, int]:
    return {block: _GENESIS + 12 * block for block in blocks}


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0  # gone


class _TreeRss(threading.Thread):
    """The largest sum of the resident memory of this process and its children, sampled every 0.1 s."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.1):
            pids = [os.getpid(), *(child.pid for child in multiprocessing.active_children() if child.pid)]
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in pids))


def export(db: Path, out: Path, workers: int = 1, reference_merge: bool = False) -> dict[str, Any]:
    """The full record package (auditor's view) of the mirror at ``db`` written to ``out``: seconds, records, and
    the peak of the resident memory of the export's processes together."""
    from indexer.ocds.packages import Export, package_header, write_package
    from indexer.ocds.releases import Publication
    from indexer.schema import make_engine

    sampler = _TreeRss()
    sampler.start()
    started, started_cpu = time.perf_counter(), _cpu_s()
    engine = make_engine(f"sqlite:///{db}")
    publication = Publication()
    with engine.connect() as conn, out.open("w", encoding="utf-8") as file:
        ocds = Export(conn, _CHAIN, publication, _steady, public=False, reference_merge=reference_merge)
        header = package_header("record", publication, "http://127.0.0.1:8000/ocds/records", int(time.time()))
        records = write_package(file, "record", header, ocds.encoded_records(workers))
    engine.dispose()
    seconds = round(time.perf_counter() - started, 1)
    cpu = round(_cpu_s() - started_cpu, 1)
    sampler.done.set()
    sampler.join()
    peak_mb = round(sampler.peak_kib / 1024)
    return {"records": records, "export_s": seconds, "export_cpu_s": cpu, "tree_peak_rss_mb": peak_mb}


def _cpu_s() -> float:
    """The CPU time (user and system) of this process and of its children that ended (the pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def flags(db: Path) -> dict[str, Any]:
    """Every red flag of the mirror at ``db`` (default thresholds, the steady clock): seconds and how many."""
    from indexer.flags import Context, find_flags, load_thresholds
    from indexer.schema import make_engine

    started = time.perf_counter()
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        found = find_flags(Context(conn, _CHAIN, load_thresholds(), _steady))
    engine.dispose()
    return {"flags_s": round(time.perf_counter() - started, 1), "flags": len(found)}


_FACTORY, _BUDGET = "0x" + "fa" * 20, "0x" + "bd" * 20
# The raw events and block digests of the rows grow_mirror wrote (the trail reads them), made in SQL.
_RAW_EVENTS = (
    (
        "procurements",
        "_FACTORY",
        "'ProcurementCreated'",
        "json_object('procurementId', procurement_id, 'escrow', escrow, 'officer', officer)",
    ),
    (
        "budget_obligations",
        "_BUDGET",
        "'Obligated'",
        "json_object('escrow', escrow, 'officer', officer, 'amount', amount)",
    ),
    (
        "evidence",
        "escrow",
        "'EvidenceSubmitted'",
        "json_object('milestoneId', milestone_id, 'supplier', supplier, "
        "'round', round, 'documentHash', document_hash, 'uri', uri)",
    ),
    (
        "attestations",
        "escrow",
        "'Attested'",
        "json_object('milestoneId', milestone_id, 'evaluator', evaluator, "
        "'round', round, 'pass', passed, 'reportHash', report_hash)",
    ),
    (
        "payments",
        "escrow",
        "'PaymentReleased'",
        "json_object('milestoneId', milestone_id, 'supplier', supplier, 'amount', amount)",
    ),
    (
        "amendments",
        "escrow",
        "'AmendmentProposed'",
        "json_object('amendmentId', amendment_id, 'proposer', proposer, 'rationaleHash', rationale_hash)",
    ),
    (
        "amendment_approvals",
        "escrow",
        "'AmendmentApproved'",
        "json_object('amendmentId', amendment_id, 'approver', approver)",
    ),
)


def trail_p99_ms(db: Path, procurements: int, log: Any, samples: int = 500) -> dict[str, float]:
    """p99 of one procurement's trail as the gateway answers it (its scoped lookup of the procurement, the trail's
    query, the response model and its JSON), over ``samples`` random procurements of the mirror at ``db``. The raw
    events and digests are first made from the grown rows; direct actions' senders come from a table here (the
    gateway asks the node for them in one batched call, not counted). Also the p99 of the CPU time each took
    (``trail_p99_cpu_ms``): on a shared machine the wall time is mostly waiting for a core."""
    import random

    from chain import Role
    from gateway.identity import Principal
    from gateway.schemas.trail import TrailPublic
    from gateway.services.reads import Reader
    from indexer.schema import make_engine
    from indexer.trail import procurement_trail

    with sqlite3.connect(db) as raw:
        for table, emitter, event, args in _RAW_EVENTS:
            source = {"_FACTORY": f"'{_FACTORY}'", "_BUDGET": f"'{_BUDGET}'"}.get(emitter, emitter)
            raw.execute(
                "INSERT INTO events (chain_id, tx_hash, log_index, block_number, block_hash, tx_index, emitter, event, "  # noqa: S608
                f"args) SELECT chain_id, tx_hash, log_index, block_number, printf('0x%064x', block_number), 0, "
                f"{source}, {event}, {args} FROM {table}"
            )
        raw.execute(
            "INSERT INTO block_digests (chain_id, block_number, block_hash, event_count, digest, chain_hash, "
            "block_time) SELECT chain_id, block_number, printf('0x%064x', block_number), count(*), "
            "printf('%064x', block_number), printf('%064x', block_number + 1), ? + 12 * block_number FROM events "
            "GROUP BY chain_id, block_number",
            (_GENESIS,),
        )
        events = raw.execute("SELECT count(*) FROM events").fetchone()[0]
    engine = make_engine(f"sqlite:///{db}")
    ministry = Principal("0x" + "0f" * 20, "MOD", None, frozenset({Role.PROCUREMENT_OFFICER}))
    reader = Reader(engine, _CHAIN, ministry)
    officer = "0x" + "0f" * 20

    def senders(hashes: Sequence[str]) -> Mapping[str, str]:
        return dict.fromkeys(hashes, officer)

    times: list[float] = []
    cpu: list[float] = []
    picked = random.Random(16).sample(  # noqa: S311 (which procurements, not a secret)
        range(procurements), min(samples, procurements)
    )
    for i in picked:
        started, started_cpu = time.perf_counter(), time.process_time()
        escrow = reader.escrow_of(_hex(f"pid {i}"))
        with engine.connect() as conn:
            lines = procurement_trail(conn, _CHAIN, escrow, senders)
        body = TrailPublic.model_validate({"escrow": escrow, "count": len(lines), "data": [x.flat() for x in lines]})
        body.model_dump_json(by_alias=True)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert lines, f"no trail for procurement {i}"
    engine.dispose()
    times.sort()
    cpu.sort()
    p99, p99_cpu = (round(values[min(len(values) - 1, int(len(values) * 0.99))], 2) for values in (times, cpu))
    median = times[len(times) // 2]
    log(
        f"trail: {events:,} raw events, p99 {p99} ms over {len(times)} procurements (median {median:.2f} ms; "
        f"CPU time p99 {p99_cpu} ms)"
    )
    return {"trail_p99_ms": p99, "trail_p99_cpu_ms": p99_cpu}


def run(procurements: int, rounds: int, workers: int, log: Any, reference_merge: bool = False) -> dict[str, Any]:
    """Grow the mirror, export it in a child process, measure."""
    with tempfile.TemporaryDirectory() as folder:
        db, out = Path(folder) / "mirror.db", Path(folder) / "records.json"
        started = time.perf_counter()
        events = grow_mirror(db, procurements, rounds)
        log(f"mirror: {procurements:,} procurements, {events:,} events in {time.perf_counter() - started:.1f} s")
        child = subprocess.run(
            [
                *(sys.executable, __file__, "--export-only", str(db), str(out), "--workers", str(workers)),
                *(["--reference-merge"] if reference_merge else []),
            ],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        result: dict[str, Any] = json.loads(child.stdout)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        size_mb = out.stat().st_size / 2**20
        flagged = flags(db)
        log(f"red flags: {flagged['flags']:,} in {flagged['flags_s']} s")
        trail = trail_p99_ms(db, procurements, log)
    records, seconds = result["records"], result["export_s"]
    together = result["tree_peak_rss_mb"]
    log(
        f"record package: {records:,} records, {size_mb:.0f} MB in {seconds} s ({result['export_cpu_s']} s of CPU), "
        f"peak {together} MB (all processes)"
    )
    return {
        "procurements": procurements,
        "events": events,
        "records": result["records"],
        "package_mb": round(size_mb),
        "export_s": result["export_s"],
        "export_cpu_s": result["export_cpu_s"],  # the CPU time of the export's processes together (less load-bound)
        "workers": workers,
        "reference_merge": reference_merge,
        "export_peak_rss_mb": result["tree_peak_rss_mb"],  # the export's processes together (sampled every 0.1 s)
        "largest_process_peak_rss_mb": round(peak_mb),  # getrusage: the largest one's own peak
        **flagged,  # flags_s: every red flag of the mirror (target 60 s), and how many
        **trail,  # one procurement's trail as the gateway answers it, p99 (target: 50 ms), and its CPU time's
    }


@click.command()
@click.option("--procurements", type=click.IntRange(1), default=10_000, show_default=True, help="Procurements.")
@click.option(
    "--rounds",
    type=click.IntRange(1),
    default=11,
    show_default=True,
    help="Evidence rounds per milestone (7 + 9 x rounds events a procurement: 11 gives 1,060,000 at 10,000).",
)
@click.option(
    "--workers", type=click.IntRange(1), default=2, show_default=True, help="Processes compiling records side by side."
)
@click.option(
    "--reference-merge", is_flag=True, help="Compile records with ocdsmerge, the reference (the same bytes, slower)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object only.")
@click.option("--export-only", nargs=2, type=click.Path(path_type=Path), default=None, hidden=True)
def main(
    procurements: int,
    rounds: int,
    workers: int,
    reference_merge: bool,
    as_json: bool,
    export_only: tuple[Path, Path] | None,
) -> None:
    """Grow a mirror of procurements and their events, and measure the full OCDS record package export."""
    if export_only is not None:
        click.echo(json.dumps(export(*export_only, workers=workers, reference_merge=reference_merge)))
        return

    def log(line: str) -> None:
        click.echo(line, err=True)

    result = run(procurements, rounds, workers, log, reference_merge)
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:<20} {value}")


if __name__ == "__main__":
    main()
