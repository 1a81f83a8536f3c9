"""chain's public API: every name exported from its home and loaded on first use; ``import chain`` stays cheap;
no other package imports a private chain module; the runtime imports neither eth-tester nor web3."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import chain
from chain import project_root

ROOT = project_root()
_HOMES: dict[str, tuple[str, ...]] = chain._HOMES  # type: ignore[attr-defined]


def test_every_public_name_is_the_object_of_its_home_module() -> None:
    assert chain.__all__ == sorted(name for names in _HOMES.values() for name in names)
    for home, names in _HOMES.items():
        module = importlib.import_module(home)
        for name in names:
            assert getattr(chain, name) is getattr(module, name), f"chain.{name} is not {home}.{name}"


def test_each_home_exports_exactly_its_own_public_names() -> None:
    """A name a chain module lists in its ``__all__`` is exported by chain, from that module unless the module
    only re-exports it from another one."""
    home_of = {name: home for home, names in _HOMES.items() for name in names}
    for path in sorted((ROOT / "chain").glob("*.py")):
        if path.name == "__init__.py":
            continue
        module = importlib.import_module(f"chain.{path.stem}")
        listed = getattr(module, "__all__", ())
        assert set(_HOMES.get(module.__name__, ())) <= set(listed), f"{module.__name__}: {set(listed)}"
        for name in listed:
            assert name in home_of, f"{module.__name__}.{name} is public but not exported by chain"
            if home_of[name] != module.__name__:  # a re-export: the same object as at home
                assert getattr(module, name) is getattr(chain, name)


def test_the_type_checking_imports_are_the_table() -> None:
    tree = ast.parse((ROOT / "chain" / "__init__.py").read_text())
    block = next(
        node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
    )
    imported: dict[str, tuple[str, ...]] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom)
        if node.module == "typing":
            continue
        assert all(alias.asname == alias.name for alias in node.names), "re-exports are written `X as X`"
        imported[str(node.module)] = tuple(alias.name for alias in node.names)
    assert imported == _HOMES


def _python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_import_chain_loads_none_of_its_dependencies() -> None:
    loaded = _python(
        "import sys, chain; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'web3', 'eth_account', 'eth_abi', 'eth_utils', 'solcx', 'coincurve'} or m.startswith('chain.')))"
    )
    assert loaded == "[]"


def test_no_other_package_imports_a_private_chain_module() -> None:
    offenders = []
    for folder in ("indexer", "gateway", "scripts", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("chain._")]
    assert offenders == []


def test_the_runtime_imports_without_eth_tester_or_web3() -> None:
    """Every module of chain, indexer, gateway and scripts (the benchmarks and the screenshots aside: they run from
    a checkout with the dev dependencies, over the tests' worlds) imports with eth-tester and web3 made
    unimportable."""
    code = """
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("eth_tester", "web3"):
            raise ImportError(f"{name} is not installed here")
sys.meta_path.insert(0, Block())
for package in ("chain", "indexer", "gateway", "scripts"):
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, package + "."):
        dev_only = info.name.startswith("scripts.bench_") or info.name == "scripts.screenshots"
        if not dev_only and ".migrations" not in info.name:
            importlib.import_module(info.name)
            print(info.name)
"""
    imported = _python(code).split()
    assert {"chain.clients", "chain.connection", "indexer.sync", "gateway.main", "scripts.cli"} <= set(imported)
    assert not any(name.startswith("tests") for name in imported)


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        chain.NoSuchName  # type: ignore[attr-defined]  # noqa: B018
    assert "TxSender" in dir(chain)
    assert Path(chain.__file__ or "").name == "__init__.py"
