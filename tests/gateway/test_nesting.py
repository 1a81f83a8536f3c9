"""The nesting measure (gateway.core.nesting) against the depth Python's own parser reaches, and the limit."""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.nesting import MAX_JSON_DEPTH, RECURSION_LIMIT, exceeds_depth
from gateway.main import create_app
from tests.gateway.conftest import make_settings
from tests.world import World

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\k'), children, max_size=3)
    ),
    max_leaves=40,
)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=_JSON, limit=st.integers(min_value=0, max_value=8))
def test_valid_json_is_measured_exactly_brackets_in_strings_aside(value: Any, limit: int) -> None:
    body = json.dumps(value).encode()
    assert exceeds_depth(body, limit) == (_depth(value) > limit)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * (MAX_JSON_DEPTH + 1),  # never closed
        b"[" * 90_000 + b"]" * 90_000,
        b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1),
        b"[[" + b'"]]]]"' + b"[" * MAX_JSON_DEPTH,  # strings do not close anything
        b'"a\\\\"' + b"[" * 40,  # an escaped backslash ends the string
    ],
    ids=["open", "reported", "objects", "brackets-in-strings", "after-a-string"],
)
def test_too_deep_or_unbalanced_deep_bodies_are_caught(body: bytes) -> None:
    assert exceeds_depth(body)


def test_bodies_at_the_limit_pass() -> None:
    assert not exceeds_depth(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    assert not exceeds_depth((b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH) * 1000)
    assert not exceeds_depth(json.dumps({"message": "[" * 10_000, "signature": "0x" + "ab" * 65}).encode())
    assert not exceeds_depth(b'"unterminated' + b"[" * 40)  # all one (invalid) string: the parser never nests


def test_random_bytes_never_under_measure_what_the_parser_would_reach() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        body = bytes(rng.choice(b'[]{}"\\a,') for _ in range(rng.randint(0, 80)))
        if b'"' in body:
            continue
        running = deepest = 0
        for byte in body:
            running += 1 if byte in b"[{" else -1 if byte in b"]}" else 0
            if running < 0:
                break  # a parser stops at a stray closer
            deepest = max(deepest, running)
        for limit in (0, 2, 5):
            if deepest > limit:
                assert exceeds_depth(body, limit), (body, limit)


def test_the_app_runs_with_the_recursion_limit_it_chose(world: World, tmp_path: Path) -> None:
    sys.setrecursionlimit(100_000)  # what py_ecc does at import
    try:
        create_app(make_settings(tmp_path), rpc=world.rpc, system=world.system, build=world.build)
        assert sys.getrecursionlimit() == RECURSION_LIMIT
    finally:
        sys.setrecursionlimit(RECURSION_LIMIT)
