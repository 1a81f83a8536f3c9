"""Property-based run over the OpenAPI document (schemathesis), with every check on, signed in as each role.

The schemathesis engine runs as its command line does, against the app in process: the fuzzing phase
(schema-valid and schema-violating requests) for each role, and, as the auditor (who may see everything),
the coverage phase too (boundary values, missing and extra parameters, every method the document does not
list). Every built-in check is on: no 5xx, status codes, content types, headers and bodies as documented,
schema-valid requests not refused as invalid, schema-violating ones refused, 401 without credentials, 405
with ``Allow`` for undocumented methods. Requests aim at a real, mirrored procurement, so that they get past
"no such procurement" to the checks behind it.

Three allowances. A multipart upload's file part is bytes whatever schemathesis meant it to be, and a negative case
for the pinned ``procurement_id`` is sent with the pinned value (see ``_exempt``). And, with one check of our own
in its place: a schema-valid request may still be refused as 422 for what no schema can express (a signature past
its deadline, a milestone the escrow does not have, a document nobody uploaded): ``positive_data_acceptance``
accepts 422, but ``passes_request_validation`` fails the run if such a request is refused by request validation
itself (problem type ``validation-error``, ``nesting-too-deep`` or ``payload-too-large``): what the document
allows, the gateway must parse.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import CheckContext
from schemathesis.config import ChecksConfig
from schemathesis.core.failures import Failure
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
    problem_type = str(response.json().get("type", ""))
    if problem_type.rsplit(":", 1)[-1] in _REQUEST_VALIDATION:
        raise AssertionError(f"the document allows this request, the gateway refused it as {problem_type}")
    return None


def _exempt(check: str, failure: Failure) -> bool:
    """The two exemptions. A file part of a multipart upload is bytes, so a "wrong type" there (an integer, null)
    arrives as bytes too, and is a valid document. And the run pins every `procurement_id` path parameter to the
    test's procurement (so that requests reach real data): a negative case generated for that parameter is sent
    with the pinned, valid value, and rightly accepted. Nothing else is exempt."""
    if check != "negative_data_rejection":
        return False
    if failure.operation == "POST /evidence" and "at /properties/file (was string" in failure.message:
        return True
    return "Invalid component: parameter `procurement_id` in path" in failure.message


def _run(api: Api, label: str, procurement: str, *, coverage: bool) -> tuple[Counter[str], list[str]]:
    """One engine run signed in as ``label``: the responses by status, and every failure found."""
    # The live stream never ends by itself: an ASGI client would wait for its end (tests/gateway/test_budget_stream.py).
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app).exclude(path="/auth/sign-out")
    schema = schema.exclude(path="/budget/stream")
    schema.config.update(headers=api.sign_in(label), parameters={"path.procurement_id": procurement})
    schema.config.checks = ChecksConfig.from_dict(
        {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}}
    )
    schema.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none")
    schema.config.phases.examples.enabled = False  # the document has no examples
    schema.config.phases.coverage.enabled = coverage
    schema.config.phases.stateful.enabled = False  # it would chain sign-outs and uploads into the others
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    statuses[str(interaction.response.status_code)] += 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None and not _exempt(check.name, check.failure_info.failure):
                        failure = check.failure_info.failure
                        failures.append(f"{label} {failure.operation} {check.name}: {failure.title}: {failure.message}")
                        failures.append("    " + check.failure_info.code_sample)
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(f"{label}: engine error {event}")
        elif isinstance(event, events.EngineFinished):
            failures += [f"{label}: {failure.title}: {failure.message}" for failure in event.failures]
    return statuses, failures


@pytest.mark.parametrize("label", ROLES)
def test_every_check_passes_for_every_role(api: Api, procurement: str, label: str) -> None:
    api.sync()
    marks = api.chain_marks()
    statuses, failures = _run(api, label, procurement, coverage=label == "auditor")
    assert failures == [], "\n".join(failures[:40])
    assert sum(statuses.values()) > 100
    assert statuses["200"] > 0
    assert statuses["401"] < sum(statuses.values()) / 2  # the session held: most requests reached the routes
    assert api.chain_marks() == marks  # no generated request got anything written on chain
