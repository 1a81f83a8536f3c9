"""`procure index` (mirror the chain into SQL) and `procure audit` (replay and verify the mirror).

Register with ``main.add_command(index)`` and ``main.add_command(audit)``; ``python -m scripts.cli_indexer`` runs
them standalone.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chain.connection import DEFAULT_RPC_URL
from indexer.lease import HEARTBEAT_S, LEASE_TTL_S, STANDBY_POLL_S
from scripts._common import Context, clean_errors, db_option, pass_context

if TYPE_CHECKING:
    from indexer.sync import Indexer, SyncConfig

__all__ = ["POLL_S", "audit", "index", "standalone"]

#: Seconds between head polls while following: a block, its timestamp whole seconds, reaches an open dashboard
#: page within 1.5 s (p99) with this (scripts/bench_dashboard.py's live part; 0.5 s gave 1.6 s).
POLL_S = 0.25


def _config(
    confirmations: int | None,
    poll: float,
    max_span: int,
    recheck: tuple[float, int, float],
    lease: tuple[float, float] = (LEASE_TTL_S, HEARTBEAT_S),
) -> SyncConfig:
    from indexer.sync import SyncConfig

    recent_s, recent_blocks, all_s = recheck
    ttl, heartbeat = lease
    if heartbeat * 3 > ttl:
        raise click.BadParameter(
            f"renew the lease at least three times per TTL: --heartbeat {heartbeat:g} needs --lease-ttl of at least "
            f"{heartbeat * 3:g}",
            param_hint="--heartbeat",
        )
    return SyncConfig(
        confirmations=confirmations,
        poll_interval_s=poll,
        max_span=max_span,
        initial_span=min(SyncConfig.initial_span, max_span),
        recheck_recent_s=recent_s,
        recheck_recent_blocks=recent_blocks,
        recheck_all_s=all_s,
        lock_ttl_s=ttl,
        heartbeat_s=heartbeat,
        standby_poll_s=min(STANDBY_POLL_S, heartbeat),
    )


class _Progress:
    """A progress bar over blocks, fed by the indexer's (cursor, target) callbacks."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.done = 0

    def __call__(self, cursor: int, target: int) -> None:
        if self.bar is None:
            self.start = cursor
            total = max(1, target - cursor)
            self.bar = click.progressbar(length=total, label="catching up", show_pos=True, file=sys.stderr)
            self.bar.__enter__()
        advanced = max(0, cursor - self.start) - self.done
        if advanced > 0:
            self.bar.update(advanced)
            self.done += advanced

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.group(invoke_without_command=True)
@db_option
@click.option("--once", is_flag=True, help="Catch up to the head, then exit (default: keep following the chain).")
@click.option(
    "--standby",
    is_flag=True,
    help="If another indexer writes this mirror, wait and take over when its lease runs out (within "
    "--lease-ttl + 0.5 s of its death; at once if it ran on this host), instead of refusing to start.",
)
@click.option(
    "--lease-ttl",
    type=click.FloatRange(0.5, 600),
    default=LEASE_TTL_S,
    show_default=True,
    envvar="PROCURE_INDEXER_LEASE_TTL",
    help="Seconds without a heartbeat after which this indexer, as the writer, is presumed dead (a standby then "
    "takes over).",
)
@click.option(
    "--heartbeat",
    type=click.FloatRange(0.1, 200),
    default=HEARTBEAT_S,
    show_default=True,
    envvar="PROCURE_INDEXER_HEARTBEAT",
    help="Seconds between renewals of the writer's lease (at most a third of --lease-ttl).",
)
@click.option(
    "--confirmations",
    type=click.IntRange(0, 10_000),
    default=None,
    help="Stay this many blocks behind the head, whatever the chain's finality says ('finality' in its deployment "
    "manifest: 'immediate' on a QBFT network, 0 blocks when unset); a warning if it contradicts it. "
    "[default: the chain's finality]",
)
@click.option(
    "--poll", type=click.FloatRange(0.01, 60), default=POLL_S, show_default=True, help="Seconds between head polls."
)
@click.option(
    "--max-span",
    type=click.IntRange(1, 1_000_000),
    default=20_000,
    show_default=True,
    help="At most this many blocks per eth_getLogs range (ranges adapt below it).",
)
@click.option(
    "--recheck-every",
    type=click.FloatRange(0),
    default=60.0,
    show_default=True,
    help="Seconds between checks of the recent blocks' served rows against the chain (0: never).",
)
@click.option(
    "--recheck-blocks", type=click.IntRange(1), default=256, show_default=True, help="How many recent blocks."
)
@click.option(
    "--recheck-all-every",
    type=click.FloatRange(0),
    default=86_400.0,
    show_default=True,
    help="Seconds between checks of every block's served rows against the chain (0: never).",
)
@click.pass_context
@clean_errors
def index(
    ctx: click.Context,
    db: str | None,
    once: bool,
    standby: bool,
    lease_ttl: float,
    heartbeat: float,
    confirmations: int | None,
    poll: float,
    max_span: int,
    recheck_every: float,
    recheck_blocks: int,
    recheck_all_every: float,
) -> None:
    """Mirror every event of the ledger into SQL, exactly once, reorg-safe; follow the chain until Ctrl-C, checking
    what it serves against the chain on a schedule."""
    context = ctx.find_object(Context)
    if context is None:
        raise click.UsageError("no procure context (run as `procure index`)")
    ctx.meta["indexer.db"] = db
    recheck = (recheck_every, recheck_blocks, recheck_all_every)
    ctx.meta["indexer.config"] = (confirmations, poll, max_span, recheck)
    if ctx.invoked_subcommand is not None:
        return
    from indexer.sync import ChainSource, Indexer

    config = _config(confirmations, poll, max_span, recheck, (lease_ttl, heartbeat))
    with context.mirror(db) as engine:
        indexer = Indexer(engine, ChainSource(context.rpc()), context.system(), context.build(), config)
        if indexer.finality_warning is not None:
            click.echo(f"warning: {indexer.finality_warning}", err=True)
        if standby and not _take_over(indexer):
            return
        _follow(indexer, once)


def _take_over(indexer: Indexer) -> bool:
    """Wait as a standby until this indexer holds the writer's lease (True), or SIGINT/SIGTERM came first."""
    import time

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    def waiting(message: str) -> None:
        click.echo(f"standby: {message}; waiting to take over", err=True)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = time.monotonic()
        taken = indexer.take_over(lambda: stopping, waiting)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if taken:
        click.echo(f"standby: took over the mirror's writer lease after {time.monotonic() - started:.1f} s", err=True)
    return taken


def _follow(indexer: Indexer, once: bool) -> None:
    """Catch up with a progress bar; then, unless ``once``, follow the chain until SIGINT or SIGTERM."""
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    with indexer:
        progress = _Progress()
        try:
            stats = indexer.catch_up(progress=progress)
        finally:
            progress.close()
        cursor = indexer.store.cursor()
        assert cursor is not None
        click.echo(
            f"mirror at block {cursor.block_number} ({stats.logs_applied} events applied, {stats.reorgs} reorgs); "
            f"hash chain {cursor.chain_hash}"
        )
        if once:
            return
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        click.echo("following the chain; Ctrl-C stops")
        try:
            indexer.follow(lambda: stopping)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        click.echo(f"stopped at block {indexer.store.cursor().block_number}")  # type: ignore[union-attr]


@index.command("status")
@click.pass_context
@clean_errors
def index_status(ctx: click.Context) -> None:
    """Print the chain head, the mirror's cursor and the lag between them."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from chain.times import jst
    from indexer.cursor import chain_mismatch
    from indexer.self_check import last_self_check
    from indexer.store import Store
    from indexer.sync import ChainSource

    context = ctx.find_object(Context)
    assert context is not None
    source = ChainSource(context.rpc())
    with context.mirror(ctx.meta["indexer.db"]) as engine:
        try:
            if inspect(engine).has_table("cursors"):
                with engine.connect() as conn:
                    mismatch = chain_mismatch(conn, source.chain_id, source.genesis_hash())
                    check = last_self_check(conn, source.chain_id) if inspect(engine).has_table("self_checks") else None
                cursor = Store(engine, source.chain_id).cursor()
            else:
                mismatch, cursor, check = None, None, None
        except SQLAlchemyError as exc:
            url = engine.url.render_as_string()
            raise click.ClickException(f"cannot read {url}: {exc.__class__.__name__}") from None
    if mismatch is not None:
        raise click.ClickException(f"{mismatch}: this is not the mirror of the node at {context.rpc_url}")
    head = source.head()
    if cursor is None:
        click.echo(f"head {head}; no mirror of chain {source.chain_id} yet (run `procure index --once`)")
        return
    click.echo(f"head    {head}")
    click.echo(f"cursor  {cursor.block_number} {cursor.block_hash}")
    click.echo(f"lag     {max(0, head - cursor.block_number)} blocks")
    click.echo(f"hash    {cursor.chain_hash}")
    if check is None:
        click.echo("checked never (the indexer checks what it serves against the chain as it follows it)")
    elif check.ok:
        click.echo(f"checked {jst(check.checked_at_ms // 1000)}: {check}")
    else:
        raise click.ClickException(f"checked {jst(check.checked_at_ms // 1000)}: {check}")


@index.command("check")
@click.option("--all", "everything", is_flag=True, help="Every block, not only the recent ones.")
@click.pass_context
@clean_errors
def index_check(ctx: click.Context, everything: bool) -> None:
    """Check the rows the mirror serves against the chain now (as the indexer does on a schedule); exit 1 on a
    difference, naming the first bad block."""
    from indexer.sync import ChainSource, Indexer

    context = ctx.find_object(Context)
    assert context is not None
    confirmations, poll, max_span, recheck = ctx.meta["indexer.config"]
    with context.mirror(ctx.meta["indexer.db"]) as engine:
        config = _config(confirmations, poll, max_span, recheck)
        indexer = Indexer(engine, ChainSource(context.rpc()), context.system(), context.build(), config)
        check = indexer.check_served("all" if everything else "recent")
    if not check.ok:
        raise click.ClickException(str(check))
    click.echo(str(check))


@click.group()
def audit() -> None:
    """Replay the ledger from the chain and verify the mirror against it (auditors)."""


@audit.command("replay")
@click.option("--db", "db", required=True, help="An EMPTY database to rebuild the mirror into (sqlite:///PATH ...).")
@pass_context
@clean_errors
def audit_replay(context: Context, db: str) -> None:
    """Rebuild a fresh mirror from the chain's whole history and print its final digest (hash chain)."""
    from indexer.audit import replay
    from indexer.sync import ChainSource

    progress = _Progress()
    try:
        cursor = replay(ChainSource(context.rpc()), context.system(), context.build(), db, progress=progress)
    finally:
        progress.close()
    click.echo(f"replayed to block {cursor.block_number} {cursor.block_hash}")
    click.echo(cursor.chain_hash)


@audit.command("verify")
@db_option
@click.option("--replay-db", default=None, help="Where to replay afresh (default: a temporary SQLite file).")
@click.option(
    "--against-replay",
    "against_replay",
    default=None,
    metavar="DB",
    help="Do not replay: compare with the replay that `procure audit replay --db DB` made, caught up to the live "
    "mirror's block first (refused if DB is the live mirror, holds no mirror, mirrors another chain or system, is "
    "being written, or is past the live mirror). Trust it as far as you trust whoever built it: a replay you did "
    "not build yourself may be a copy of the live mirror, and then agrees with it whatever it holds (the digests "
    "and the contracts are still checked here).",
)
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True, help="Print at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@pass_context
@clean_errors
def audit_verify(
    context: Context, db: str | None, replay_db: str | None, against_replay: str | None, limit: int, as_json: bool
) -> None:
    """Compare the live mirror with its digests, a replay to its block and the contracts; exit 1 on any
    difference."""
    from indexer.audit import format_report, verify
    from indexer.sync import ChainSource

    if replay_db is not None and against_replay is not None:
        raise click.UsageError("--replay-db replays afresh, --against-replay uses an earlier replay: give one")
    with context.mirror(db) as engine:
        report = verify(
            engine,
            ChainSource(context.rpc()),
            context.system(),
            context.build(),
            replay_url=replay_db,
            against_replay=against_replay,
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "block": report.cursor.block_number,
                    "mirror_hash": report.cursor.chain_hash,
                    "replay_hash": report.replay_hash,
                    "differences": [
                        {
                            "source": d.source,
                            "table": d.table,
                            "key": d.key,
                            "field": d.field,
                            "mirror": str(d.mirror),
                            "other": str(d.other),
                        }
                        for d in report.differences
                    ],
                    "checked": report.checked,
                },
                sort_keys=True,
            )
        )
    else:
        for line in format_report(report, limit):
            click.echo(line)
    if not report.ok:
        raise click.exceptions.Exit(1)
    if not as_json:
        click.echo("mirror verified: no differences")


def _add_export() -> None:
    from scripts.cli_flags import audit_flags
    from scripts.cli_ocds import export_ocds

    audit.add_command(export_ocds)
    audit.add_command(audit_flags)


_add_export()


def _add_trail() -> None:
    from scripts.cli_compare import compare
    from scripts.cli_trail import actor, trail

    audit.add_command(trail)
    audit.add_command(actor)
    audit.add_command(compare)


_add_trail()


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.option("--rpc-url", envvar="PROCURE_RPC_URL", default=DEFAULT_RPC_URL, help="Ethereum JSON-RPC URL.")
@click.option(
    "--var",
    "var_dir",
    envvar="PROCURE_VAR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The var/ folder (deployment manifests, default database). [default: var/ under the project]",
)
@click.pass_context
def standalone(ctx: click.Context, rpc_url: str, var_dir: Path | None) -> None:
    """The indexer commands on their own (the same as `procure index` / `procure audit`)."""
    if ctx.obj is None:
        ctx.obj = Context(rpc_url=rpc_url) if var_dir is None else Context(rpc_url=rpc_url, var_dir=var_dir)


standalone.add_command(index)
standalone.add_command(audit)


if __name__ == "__main__":
    standalone()
