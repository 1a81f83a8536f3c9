"""``scripts/profile_indexer.py``'s command line: a command's help needs no node, a missing option or an absent node
is one clear line (the measurement itself is a benchmark, run by hand: BENCHMARKS.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.node import free_port
from scripts.profile_indexer import main


@pytest.mark.parametrize("command", ["measure", "generate"])
def test_a_commands_help_needs_neither_option_nor_node(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: main {command} [OPTIONS]" in result.output


def test_a_missing_option_or_node_is_one_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["--var", str(tmp_path), "measure"])
    assert missing.exit_code == 2
    assert missing.output.splitlines()[-1] == "Error: missing --rpc-url (given before the command)"
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    absent = CliRunner().invoke(main, ["--rpc-url", url, "--var", str(tmp_path), "measure"])
    assert absent.exit_code == 1
    assert absent.output == f"Error: no Ethereum node answers at {url}: ConnectionError\n"
