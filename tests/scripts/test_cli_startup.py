"""`procure` starts at once: a help page loads no JSON-RPC, ABI, SQL or web stack (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import pytest

from chain import project_root

# What a command may need, never a help page. eth_utils alone (about 0.3 s) is allowed where a page lists the
# choices of an option that come from chain.roles (`org add --help`, `role grant --help`).
HEAVY = ("web3", "eth_account", "eth_abi", "solcx", "sqlalchemy", "fastapi", "uvicorn", "httpx", "requests", "yaml")

_LOADED_AFTER = """
import json, sys
import click
from click.testing import CliRunner
from scripts.cli import main

def walk(command, path):
    yield path
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            yield from walk(sub, [*path, name])

pages = [list(p) for p in walk(main, [])] if sys.argv[1] == "all" else [json.loads(sys.argv[1])]
exits = [CliRunner().invoke(main, [*page, "--help"]).exit_code for page in pages]
print(json.dumps({"pages": len(pages), "exits": exits, "modules": sorted(sys.modules)}))
"""


@dataclass(frozen=True)
class Loaded:
    """What a fresh interpreter did: help pages shown, their exit codes, the top-level packages it imported."""

    pages: int
    exits: list[int]
    packages: set[str]


def _help_in_fresh_interpreter(which: str) -> Loaded:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_AFTER, which],
        capture_output=True,
        text=True,
        cwd=project_root(),
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    return Loaded(result["pages"], result["exits"], {name.partition(".")[0] for name in result["modules"]})


def _at_start() -> set[str]:
    """The top-level packages a bare interpreter has before it runs anything (a ``-nspkg.pth`` file of an installed
    namespace package, such as flattentool's zc.*, puts its namespace there)."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        cwd=project_root(),
        timeout=120,
        check=True,
    )
    return {name.partition(".")[0] for name in json.loads(done.stdout)}


@pytest.mark.parametrize("page", [[], ["org"]], ids=["procure", "procure org"])
def test_help_imports_nothing_but_click(page: list[str]) -> None:
    loaded = _help_in_fresh_interpreter(json.dumps(page))
    assert loaded.exits == [0]
    ours = {"chain", "indexer", "scripts", "__main__"}
    before = _at_start()
    others = {p for p in loaded.packages - set(sys.stdlib_module_names) - ours - before if not p.startswith("_")}
    assert others == {"click"}


def test_no_help_page_imports_web3() -> None:
    loaded = _help_in_fresh_interpreter("all")
    assert loaded.pages >= 25
    assert loaded.exits == [0] * loaded.pages
    assert not loaded.packages & set(HEAVY)
