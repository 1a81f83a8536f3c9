"""`procure audit flags`: the red flags of the mirror, one line per flag in words (or JSON).

Registered on the `audit` group (scripts/cli_indexer.py). The rules live in ``indexer.flags``; this command only
reads options, opens the mirror and the node (for block times) and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from scripts._common import Context, clean_errors, fiscal_year_and_ministry, mirror_options, pass_context

__all__ = ["audit_flags"]


@click.command("flags")
@fiscal_year_and_ministry("every one", "every one")
@click.option("--rule", "rules", multiple=True, help="Only this rule (repeat for several). [default: every rule]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the flags and the rules not computable.")
@click.option(
    "--thresholds",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A thresholds file naming every rule's every key. [default: indexer/flags/thresholds.toml]",
)
@mirror_options
@pass_context
@clean_errors
def audit_flags(
    context: Context,
    fiscal_year: int | None,
    ministry: str | None,
    rules: tuple[str, ...],
    as_json: bool,
    thresholds: Path | None,
    db: str | None,
    spec_paths: tuple[Path, ...],
    ocid_prefix: str,
) -> None:
    """Red flags at the implementation stage (amendments, acceptance, payments, parties, year-end obligations), each
    naming its rule, its published source and the records that tripped it; block times come from the node."""
    from indexer.flags import NOT_COMPUTABLE, RULES, find_flags, load_thresholds
    from indexer.flags import Context as FlagContext
    from indexer.ocds.packages import mirrored_chain
    from indexer.ocds.releases import ChainBlockTimes, Publication

    limits = load_thresholds(thresholds)
    publication = Publication(ocid_prefix=ocid_prefix, specs=context.specs(spec_paths))
    with context.mirror(db) as engine, engine.connect() as conn:
        flag_context = FlagContext(conn, mirrored_chain(conn), limits, ChainBlockTimes(context.rpc()), publication)
        flags = find_flags(
            flag_context, rules=rules or None, fiscal_year=fiscal_year, ministry=ministry and ministry.upper()
        )
    if as_json:
        answer = {
            "flags": [flag.as_json() for flag in flags],
            "rules": [
                {"id": rule.id, "source": rule.source, "description": rule.description}
                for rule in RULES.values()
                if not rules or rule.id in rules
            ],
            "notComputable": [
                {"id": entry.id, "source": entry.source, "reason": entry.reason} for entry in NOT_COMPUTABLE
            ],
        }
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    for flag in flags:
        click.echo(flag.line())
    checked = len(rules) if rules else len(RULES)
    click.echo(f"{len(flags)} flag{'' if len(flags) == 1 else 's'} from {checked} rules", err=True)
