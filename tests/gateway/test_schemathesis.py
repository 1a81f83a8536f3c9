"""Property-based run over the OpenAPI document (schemathesis), with every check on, signed in as each role.

The schemathesis engine runs as its command line does, against the app in process: the fuzzing phase
(schema-valid and schema-violating requests) for each role, and, as the auditor (who may see everything),
the coverage phase (boundary values, missing and extra parameters, every method the document does not list).
Every role shares one fuzzing run: generation is deterministic and costs far more than a request, so each case
it generates is sent as each of them and checked the same way (they get the very requests each role's own run
would get; the auditor's coverage run therefore leaves fuzzing to it). Every built-in check is on: no 5xx, status
codes, content types, headers and bodies as documented, schema-valid requests not refused as invalid,
schema-violating ones refused, 401 without credentials, 405 with ``Allow`` for undocumented methods. Requests aim
at a real, mirrored procurement, so that they get past "no such procurement" to the checks behind it.

Three allowances. A multipart upload's file part is bytes whatever schemathesis meant it to be, and a negative case
for the pinned ``procurement_id`` is sent with the pinned value (see ``_exempt``). And, with one check of our own
in its place: a schema-valid request may still be refused as 422 for what no schema can express (a signature past
its deadline, a milestone the escrow does not have, a document nobody uploaded): ``positive_data_acceptance``
accepts 422, but ``passes_request_validation`` fails the run if such a request is refused by request validation
itself (problem type ``validation-error``, ``nesting-too-deep`` or ``payload-too-large``): what the document
allows, the gateway must parse. Except one shape: an integer query parameter generated as a float with no fraction
(JSON Schema's integer 15.0) reaches the gateway as the text ``15.0``, which a query string cannot tell from the
string "15.0"; the gateway reads decimal integers there, as the parameter's string form documents, and says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import schemathesis
from schemathesis.checks import CheckContext
from schemathesis.config import ChecksConfig
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
from schemathesis.core.transport import Response
from schemathesis.engine import events, from_schema

from tests.gateway.conftest import Api

ROLES = ("auditor", "supplier", "eval1", "officer", "reviewer", "mod_admin", "treasury")
EXAMPLES = 3
_REQUEST_VALIDATION = ("validation-error", "nesting-too-deep", "payload-too-large")


@schemathesis.check
def passes_request_validation(ctx: CheckContext, response: Response, case: schemathesis.Case[Any]) -> bool | None:
    """A request the document allows is never refused by request validation."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return None
    if any(isinstance(value, float) for value in (case.query or {}).values()):
        return None  # an integer written as 15.0 in a query string (see the module's docstring)
    problem_type = str(response.json().get("type", ""))
    if problem_type.rsplit(":", 1)[-1] in _REQUEST_VALIDATION:
        raise AssertionError(f"the document allows this request, the gateway refused it as {problem_type}")
    return None


def _exempt(failure: Failure) -> bool:
    """The two exemptions. A file part of a multipart upload is bytes, so a "wrong type" there (an integer, null)
    arrives as bytes too, and is a valid document. And the run pins every `procurement_id` path parameter to the
    test's procurement (so that requests reach real data): a negative case generated for that parameter is sent
    with the pinned, valid value, and rightly accepted. Nothing else is exempt."""
    if not isinstance(failure, AcceptedNegativeData):  # the failure of negative_data_rejection
        return False
    if failure.operation == "POST /evidence" and "at /properties/file (was string" in failure.message:
        return True
    return "Invalid component: parameter `procurement_id` in path" in failure.message


@dataclass
class _Replay:
    """The other roles a run sends each of its cases as, and what they got."""

    headers: dict[str, dict[str, str]]
    statuses: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


_REPLAYS: dict[int, _Replay] = {}  # id(schema) -> its replay, for the runs that have one


@schemathesis.check
def as_every_other_role(ctx: CheckContext, response: Response, case: schemathesis.Case[Any]) -> bool | None:
    """The same case sent as each of the run's other roles, and every check run on each response. (Generating a
    case costs some fifty times what sending it does: the roles share one generation, each gets every case.)"""
    replay = _REPLAYS.get(id(case.operation.schema))
    if replay is None:
        return None
    for label, headers in replay.headers.items():
        kwargs = dict(ctx.internals.transport_kwargs or {})
        kwargs["headers"] = {**kwargs.get("headers", {}), **headers}
        theirs = case.call(**kwargs)
        replay.statuses.setdefault(label, Counter())[str(theirs.status_code)] += 1
        try:
            case.validate_response(
                theirs, excluded_checks=[as_every_other_role], headers=kwargs["headers"], transport_kwargs=kwargs
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                if not _exempt(failure):
                    replay.failures.append(f"{label} {failure.operation}: {failure.title}: {failure.message}")
                    replay.failures.append("    " + case.as_curl_command(headers=kwargs["headers"]))
    return None


def _run(
    api: Api, label: str, procurement: str, *, phase: Literal["coverage", "fuzzing"], replay: _Replay | None = None
) -> tuple[Counter[str], list[str]]:
    """One engine run of ``phase`` signed in as ``label`` (each case also sent as ``replay``'s roles): the
    responses by status, and every failure found."""
    # The live stream never ends by itself: an ASGI client would wait for its end (tests/gateway/test_budget_stream.py).
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app).exclude(path="/auth/sign-out")
    schema = schema.exclude(path="/budget/stream")
    schema.config.update(headers=api.sign_in(label), parameters={"path.procurement_id": procurement})
    schema.config.checks = ChecksConfig.from_dict(
        {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}}
    )
    schema.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
    schema.config.phases.examples.enabled = False  # the document has no examples
    schema.config.phases.coverage.enabled = phase == "coverage"
    schema.config.phases.fuzzing.enabled = phase == "fuzzing"
    schema.config.phases.stateful.enabled = False  # it would chain sign-outs and uploads into the others
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    if replay is not None:
        _REPLAYS[id(schema)] = replay
    try:
        engine_events = list(from_schema(schema).execute())
    finally:
        _REPLAYS.pop(id(schema), None)
    for event in engine_events:
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses[str(interaction.response.status_code)] += 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None and not _exempt(check.failure_info.failure):
                        failure = check.failure_info.failure
                        failures.append(f"{label} {failure.operation} {check.name}: {failure.title}: {failure.message}")
                        failures.append("    " + check.failure_info.code_sample)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"{label}: engine error {event}")
        elif isinstance(event, events.EngineFinished):
            failures += [f"{label}: {failure.title}: {failure.message}" for failure in event.failures]
    return statuses, failures


def _assert_reached_the_routes(label: str, statuses: Counter[str]) -> None:
    assert sum(statuses.values()) > 100, label
    assert statuses["200"] > 0, label
    assert statuses["401"] < sum(statuses.values()) / 2, label  # the session held: most requests reached the routes


def test_every_check_passes_in_the_coverage_phase_as_the_auditor(api: Api, procurement: str) -> None:
    api.sync()
    marks = api.chain_marks()
    statuses, failures = _run(api, "auditor", procurement, phase="coverage")
    assert failures == [], "\n".join(failures[:40])
    _assert_reached_the_routes("auditor", statuses)
    assert api.chain_marks() == marks  # no generated request got anything written on chain


def test_every_check_passes_in_the_fuzzing_phase_for_every_role(api: Api, procurement: str) -> None:
    """One fuzzing run as the first role; every case it generates is sent as each of the others too."""
    api.sync()
    marks = api.chain_marks()
    first, *others = ROLES
    replay = _Replay({label: api.sign_in(label) for label in others})
    statuses, failures = _run(api, first, procurement, phase="fuzzing", replay=replay)
    failures += replay.failures
    assert failures == [], "\n".join(failures[:40])
    assert sorted(replay.statuses) == sorted(others)
    for label, theirs in {first: statuses, **replay.statuses}.items():
        _assert_reached_the_routes(label, theirs)
    assert api.chain_marks() == marks  # no generated request got anything written on chain
