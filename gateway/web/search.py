"""The procurements page's search form read as the API's filters: the same model (``ProcurementFilters`` of
gateway/api/routes/lists.py, so the same limits and messages) and then the same listing (``LISTINGS``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from gateway.api.routes.lists import ProcurementFilters
from gateway.errors import InvalidInput

__all__ = ["procurement_filters"]

_FIELDS = {"q": "q", "status": "status", "year": "fiscalYear"}  # the form's names -> the API's


def procurement_filters(given: Mapping[str, str | None]) -> dict[str, Any]:
    """The listing's filters of the form's ``q``, ``status`` and ``year`` (None: not given); InvalidInput naming
    the field and what is wrong with it."""
    values = {_FIELDS[name]: value for name, value in given.items() if value is not None}
    try:
        filters = ProcurementFilters.model_validate(values)
    except ValidationError as exc:
        api_names = {api: form for form, api in _FIELDS.items()}
        problems = "; ".join(
            f"{api_names.get(str(error['loc'][0]), error['loc'][0])}: {_message(error)}" for error in exc.errors()
        )
        raise InvalidInput(problems) from None
    return {name: value for name, value in filters.model_dump().items() if value is not None}


def _message(error: Any) -> str:
    if error["type"] == "string_pattern_mismatch":
        return "control characters (line breaks, tabs, NUL...) are not searched for: remove them"
    return str(error["msg"])
