"""A chain's finality, one setting in its deployment manifest: parsed strictly, read back as written, and the one
rule for when a block is final and how far behind the head an indexer stays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chain import DEFAULT_FINALITY, IMMEDIATE, ConfigurationError, Finality, confirmations_for, is_final
from chain.deployment import DeploymentError, load_manifest

_MANIFEST = {
    "chainId": 2026,
    "registry": "0x" + "11" * 20,
    "token": "0x" + "22" * 20,
    "factory": "0x" + "33" * 20,
    "implementation": "0x" + "44" * 20,
    "deployedBlock": 0,
    "admin": "0x" + "55" * 20,
    "budget": "0x" + "66" * 20,
    "budgetOffice": "0x" + "77" * 20,
}


@pytest.mark.parametrize(("value", "expected"), [("immediate", IMMEDIATE), (0, Finality(0)), ("12", Finality(12))])
def test_finality_is_immediate_or_a_depth(value: object, expected: Finality) -> None:
    assert Finality.parse(value) == expected
    assert Finality.parse(expected.to_json()) == expected


@pytest.mark.parametrize("value", ["instant", -1, 10_001, 1.5, True, None, "٣", " 3", [3]])
def test_any_other_finality_is_refused_by_name(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"finality is 'immediate' .* not"):
        Finality.parse(value)


def test_a_block_is_final_at_the_depth() -> None:
    assert not is_final(None, 100, IMMEDIATE)  # not mined
    assert is_final(100, 100, IMMEDIATE)
    assert not is_final(101, 100, IMMEDIATE)  # a head older than the block: not seen final
    assert not is_final(99, 100, Finality(2))
    assert is_final(98, 100, Finality(2))
    assert not is_final(-1, 100, Finality(0))


def test_confirmations_follow_the_finality_and_an_explicit_depth_wins_with_a_warning() -> None:
    assert confirmations_for(IMMEDIATE, None) == (0, None)
    assert confirmations_for(Finality(6), None) == (6, None)
    assert confirmations_for(Finality(6), 6) == (6, None)
    assert confirmations_for(Finality(6), 9) == (9, None)  # deeper than needed on a reorganizing chain: safe
    shallow, warning = confirmations_for(Finality(6), 2)
    assert shallow == 2
    assert warning is not None
    assert "not final yet" in warning
    lagging, warning = confirmations_for(IMMEDIATE, 3)
    assert lagging == 3
    assert warning is not None
    assert "for nothing" in warning


def _write(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "2026.json"
    path.write_text(json.dumps(_MANIFEST | changes))
    return path


def test_the_manifest_holds_the_finality_and_a_bad_one_is_named(tmp_path: Path) -> None:
    system = load_manifest(_write(tmp_path))
    assert system is not None
    assert system.finality == DEFAULT_FINALITY
    system = load_manifest(_write(tmp_path, finality="immediate"))
    assert system is not None
    assert system.finality == IMMEDIATE
    assert system.to_json()["finality"] == "immediate"
    with pytest.raises(DeploymentError, match=r"2026.json: finality is 'immediate'"):
        load_manifest(_write(tmp_path, finality="fast"))


@pytest.mark.parametrize(
    ("events", "words"),
    [
        ({"address": "0x12", "topics": ["0x" + "00" * 32], "data": "0x"}, "address is 0x and 40"),
        ({"address": "0x" + "11" * 20, "topics": [], "data": "0x"}, "1 to 4 topics"),
        ({"address": "0x" + "11" * 20, "topics": ["0x00"], "data": "0x"}, "1 to 4 topics"),
        ({"address": "0x" + "11" * 20, "topics": ["0x" + "00" * 32], "data": "0x0"}, "whole bytes"),
        ("RoleGranted", "is an object"),
    ],
)
def test_a_malformed_genesis_event_in_the_manifest_is_named(tmp_path: Path, events: object, words: str) -> None:
    with pytest.raises(DeploymentError, match=words):
        load_manifest(_write(tmp_path, genesisEvents=[events]))
