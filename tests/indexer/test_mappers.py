"""Golden tests: recorded logs in, expected rows out; applied twice, the same rows; look-alikes ignored."""

from __future__ import annotations

import copy
import json
from enum import IntEnum
from random import Random
from typing import Any

import pytest
from sqlalchemy import Engine

from chain import compile_contracts
from chain.logs import DecodedLog, EventDecoder, checksum
from indexer.canonical import canonical_json, event_args_json, json_value
from indexer.mappers import MAPPERS, Insert, MilestoneState, MilestoneStep, map_log
from indexer.sync import decode_range, trusted_emitters
from tests.indexer.golden import apply_recorded, dump, system_of

LOOKALIKE = "0x000000000000000000000000000000000000dEaD"


def test_recorded_logs_give_the_expected_rows(engine: Engine, recorded: dict[str, Any], expected: Any) -> None:
    assert apply_recorded(engine, recorded) == len(recorded["logs"])
    assert dump(engine) == expected


def test_applying_the_same_logs_twice_changes_nothing(engine: Engine, recorded: dict[str, Any], expected: Any) -> None:
    apply_recorded(engine, recorded)
    assert apply_recorded(engine, recorded) == 0
    assert dump(engine) == expected


def test_applying_in_two_halves_equals_applying_at_once(
    engine: Engine, recorded: dict[str, Any], expected: Any
) -> None:
    logs = recorded["logs"]
    middle = int(logs[len(logs) // 2]["blockNumber"], 16) if isinstance(logs[0]["blockNumber"], str) else 0
    first = [log for log in logs if _block(log) < middle]
    half = copy.deepcopy(recorded)
    half["head"] = {"number": middle - 1, "hash": _hash_of(logs, middle - 1)}
    apply_recorded(engine, half, first)
    apply_recorded(engine, recorded)
    assert dump(engine) == expected


def _block(log: dict[str, Any]) -> int:
    value = log["blockNumber"]
    return int(value, 16) if isinstance(value, str) else int(value)


def _hash_of(logs: list[dict[str, Any]], number: int) -> str:
    for log in logs:
        if _block(log) == number:
            return str(log["blockHash"])
    return "0x" + "ab" * 32  # a block without logs: its hash is not checked by a direct apply


def test_lookalike_contracts_cannot_inject_rows(recorded: dict[str, Any]) -> None:
    system = system_of(recorded)
    decoder = EventDecoder(compile_contracts())
    trusted = trusted_emitters(system)
    forged = []
    for log in recorded["logs"]:
        copy_ = dict(log, address=LOOKALIKE)  # the same event, from a contract nobody registered
        forged.append(copy_)
    mapped, ignored = decode_range(decoder, forged, dict(trusted), recorded["chain_id"])
    assert mapped == []
    assert ignored == len(forged)
    # A fake factory announcing an escrow does not make that escrow trusted: its logs stay ignored.
    genuine, _ = decode_range(decoder, recorded["logs"], dict(trusted), recorded["chain_id"])
    escrow_logs = [log for log in recorded["logs"] if checksum(log["address"]) == recorded["escrows"]["a"]]
    assert escrow_logs
    mapped, _ = decode_range(decoder, escrow_logs, dict(trusted), recorded["chain_id"])
    assert mapped == []
    assert len(genuine) == len(recorded["logs"])


def test_every_event_of_every_contract_has_a_mapper() -> None:
    decoder = EventDecoder(compile_contracts())
    assert decoder.all_event_names() <= set(MAPPERS)


def _log(event: str, **args: Any) -> DecodedLog:
    return DecodedLog(
        chain_id=1, block_number=10, block_hash="0x" + "b" * 64, tx_hash="0x" + "a" * 64, tx_index=0,
        log_index=3, emitter="0x" + "E" * 40, kind="escrow", event=event, args=args,
    )  # fmt: skip


def test_an_action_is_relayed_only_right_after_a_signature_of_the_same_signer() -> None:
    evaluator, other, relayer = "0x" + "1" * 40, "0x" + "2" * 40, "0x" + "3" * 40
    attested = _log(
        "Attested", milestoneId=0, evaluator=evaluator, round=1, reportHash="0x" + "0" * 64, **{"pass": True}
    )

    def signature(signer: str, tx: str = "a") -> DecodedLog:
        log = _log("SignatureUsed", signer=signer, relayer=relayer, nonce=7)
        return DecodedLog(**(_fields(log) | {"tx_hash": "0x" + tx * 64, "log_index": 2}))

    def row(previous: DecodedLog | None) -> dict[str, Any]:
        first = map_log(attested, previous)[0]
        assert isinstance(first, Insert)
        assert first.table == "attestations"
        return first.row

    assert (row(signature(evaluator))["relayed"], row(signature(evaluator))["relayer"]) == (True, relayer)
    assert row(signature(other))["relayed"] is False
    assert row(None)["relayed"] is False
    assert row(signature(evaluator, tx="c"))["relayed"] is False  # another transaction's signature


def _fields(log: DecodedLog) -> dict[str, Any]:
    names = ("chain_id", "block_number", "block_hash", "tx_hash", "tx_index", "log_index", "emitter", "kind")
    return {name: getattr(log, name) for name in names} | {"event": log.event, "args": log.args}


_WHO, _HASH, _ZERO = "0x" + "1" * 40, "0x" + "0" * 64, "0x" + "0" * 40
M = MilestoneState
_EVIDENCE = {"supplier": _WHO, "round": 2, "documentHash": _HASH, "uri": ""}
_TRANSITIONS = [
    ("EvidenceSubmitted", _EVIDENCE, M(5, 9, "Rejected", 1, 0, 2), M(5, 9, "Submitted", 2, 0, 0)),
    ("MilestoneApproved", {"round": 1, "amount": 5}, M(5, 9, "Submitted", 1, 2), M(5, 9, "Approved", 1, 2)),
    ("PaymentDeferred", {"supplier": _WHO, "amount": 5}, M(5, 9, "Approved", 1, 2), M(5, 9, "Approved", 1, 2, 0, 5)),
    ("PaymentReleased", {"supplier": _WHO, "amount": 5}, M(5, 9, "Approved", 1, 2, 0, 5), M(5, 9, "Paid", 1, 2)),
    ("PaymentReleased", {"supplier": _WHO, "amount": 3}, M(5, 9, "Settled"), M(5, 9, "Settled")),
    ("SubmissionRejected", {"round": 1, "fails": 2}, M(5, 9, "Submitted", 1, 0, 2), M(5, 9, "Rejected", 1, 0, 2)),
    ("MilestoneReclaimed", {"officer": _WHO, "previous": 0}, M(5, 9, "Pending"), M(5, 9, "Refunded")),
    ("DisputeOpened", {"opener": _WHO, "previous": 2, "reasonHash": _HASH, "lapsesAt": 77},
     M(5, 9, "Rejected"), M(5, 9, "Disputed", dispute_lapses_at=77)),
    ("DisputeSettled", {"reviewer": _WHO, "supplierAmount": 1, "ministryAmount": 4, "rulingHash": _HASH},
     M(5, 9, "Disputed", dispute_lapses_at=77), M(5, 9, "Settled")),
    ("DisputeLapsed", {"restored": 2, "newDueDate": 12}, M(5, 9, "Disputed", 3, 1, 2, dispute_lapses_at=77),
     M(5, 12, "Rejected", 3, 1, 2)),
    ("OwedRedirected", {"to": _WHO, "amount": 5, "rulingHash": _HASH}, M(5, 9, "Approved", owed=5), M(5, 9, "Paid")),
    ("OwedRedirected", {"to": _ZERO, "amount": 5, "rulingHash": _HASH}, M(5, 9, "Approved", owed=5),
     M(5, 9, "Refunded")),
    ("OwedRedirected", {"to": _ZERO, "amount": 2, "rulingHash": _HASH}, M(5, 9, "Settled", owed=2),
     M(5, 9, "Settled")),
]  # fmt: skip


@pytest.mark.parametrize(("event", "args", "before", "after"), _TRANSITIONS)
def test_milestone_transitions(event: str, args: dict[str, Any], before: MilestoneState, after: MilestoneState) -> None:
    changes = map_log(_log(event, milestoneId=0, **args), None)
    (step,) = [c for c in changes if isinstance(c, MilestoneStep)]
    assert step.step(before) == after


def test_canonical_json_writes_integers_as_decimal_strings_and_sorts_keys() -> None:
    assert canonical_json({"b": 2**200, "a": True, "c": [1, {"z": 0, "y": "x"}]}) == (
        '{"a":true,"b":"' + str(2**200) + '","c":["1",{"y":"x","z":"0"}]}'
    )


def _reference_json(value: Any) -> str:
    return json.dumps(json_value(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_canonical_json_of_each_shape_equals_the_reference_whatever_its_values_types() -> None:
    # Each shape of object gets a formatter compiled from its first object; later ones of the same keys with
    # values of other types (an int where a str was, a subclass, a tuple, a nested object of another shape) must
    # still give the reference text, as must strings that need escaping.
    class Level(IntEnum):
        HIGH = 7

    class Text(str):
        pass

    odd_strings = ['quote " and \\ back', "tab\t new\nline \x00 nul", "ümlaut 日本", "\ud800 lone", "}{'"]
    values: list[Any] = [
        "0x" + "ab" * 20, 0, 2**256 - 1, True, False, None, [1, "a", [True]], {"z": 1, "a": "b"}, (1, 2),
        Level.HIGH, Text("sub"), *odd_strings, {}, [], {"nested": {"deep": [None, 3]}},
    ]  # fmt: skip
    random = Random(19)
    shapes = [("b", "a"), ("only",), ("z", "m", "a", "q"), ('we"ird', "back\\slash", "{brace}", "ü")]
    for _ in range(3_000):
        names = random.choice(shapes)
        value = {name: random.choice(values) for name in names}
        assert canonical_json(value) == _reference_json(value), value
    assert canonical_json({}) == "{}"


def test_an_events_arguments_equal_the_reference_whatever_arguments_another_event_of_its_name_had() -> None:
    # Formatters are found by event name: one of that name with other arguments (fewer, more, renamed, of other
    # types) must still give the reference text, and so must the first shape again afterwards.
    shapes: list[dict[str, Any]] = [
        {"b": 1, "a": "x"},
        {"b": 1},
        {"b": 1, "a": "x", "c": None},
        {"b": 1, "z": "x"},
        {"b": "1", "a": 2},
        {},
        {"b": 2**256 - 1, "a": 'quote " here'},
    ]
    for args in shapes:
        assert event_args_json(_log("SameName", **args)) == _reference_json(args), args


def test_an_unknown_event_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="no mapper for event 'Surprise'"):
        map_log(_log("Surprise"), None)
