"""Property-based run over the OpenAPI schema (schemathesis): whatever the input, never a 5xx.

Every operation gets a few schema-valid and a few schema-violating requests aimed at a real procurement (so
that they get past "no such procurement" to the checks): signed in as an auditor for every operation, and as
a panel evaluator for the signed actions (so that they reach signature checking). Bounded (few examples, no
shrinking) so that the whole run stays well under a minute.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.gateway.conftest import Api

EXAMPLES_PER_MODE = 4


def _run(api: Api, label: str, procurement: str, only_actions: bool) -> tuple[Counter[int], list[str]]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    schema.config.update(headers=api.sign_in(label), parameters={"path.procurement_id": procurement})
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if operation.path == "/auth/sign-out":
            continue  # it would end the session the other requests use
        if only_actions and "/actions/" not in operation.path:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def run(case: schemathesis.Case[Any]) -> None:
                response = case.call()
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}")

            try:
                run()
            except Unsatisfiable:  # nothing to get wrong (e.g. an operation without parameters)
                assert mode is GenerationMode.NEGATIVE
    return statuses, failures


def test_no_operation_answers_with_a_server_error(api: Api, procurement: str) -> None:
    api.sync()
    marks = api.chain_marks()
    statuses, failures = _run(api, "auditor", procurement, only_actions=False)
    assert failures == []
    assert sum(statuses.values()) > 150
    assert statuses[200] > 0
    assert statuses[401] < 10  # the session held: requests reached the routes

    statuses, failures = _run(api, "eval1", procurement, only_actions=True)
    assert failures == []
    assert statuses[403] + statuses[422] + statuses[409] > 0
    assert api.chain_marks() == marks  # no generated request got anything written on chain
