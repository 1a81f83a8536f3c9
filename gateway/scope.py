"""Who may see which procurement: one rule, as the SQL condition of every read of the mirror and as the check of
a procurement's facts read from the chain (``/procurements/{id}/state``, the signed actions).

An auditor and the finance authority (which sees every budget line and what is charged to it) see every
procurement. Any other account sees those where one of its roles applies:

* a ministry account (admin, officer, treasury): its ministry's;
* a supplier account: its organization's;
* an evaluator: those on whose panel it sits;
* a review body: those with a milestone in dispute or settled by a ruling (``DISPUTE_STATUSES``).

An account with no active role sees nothing. A procurement outside the scope is a 404, the same as one that
does not exist. Everything below a procurement (milestones, evidence, attestations, payments, amendments,
disputes, events) follows its procurement. ``tests/gateway/test_scope.py`` holds the two forms against each
other for every kind of caller.

Budget lines have their own rule, ``LineScope``: the finance authority and auditors see every line; a ministry
account its ministry's lines and the lines another ministry granted it a right on (to see or to obligate) that
has not expired or been revoked; anyone else none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, false, func, or_, true

from chain import MilestoneStatus, Role, Terms, org_id
from gateway.identity import Principal
from indexer.mappers import status_name
from indexer.models import BudgetGrantRow, BudgetSeries, MilestoneRow, ProcurementRow

__all__ = ["DISPUTE_STATUSES", "LineScope", "Scope"]

DISPUTE_STATUSES = frozenset({MilestoneStatus.DISPUTED, MilestoneStatus.SETTLED})

_procurements = ProcurementRow.__table__.c
# Under a name of its own: a statement may read the milestones too (a procurement's detail does).
_milestones = MilestoneRow.__table__.alias("disputed_milestones").c
_DISPUTE_STATUS_NAMES = sorted(status_name(status.value) for status in DISPUTE_STATUSES)


@dataclass(frozen=True)
class Scope:
    """What one account may see: all, or any procurement one of these conditions holds for."""

    everything: bool = False
    ministry: str | None = None  # the buying ministry's organization code
    supplier_org: str | None = None  # the supplier's organization code
    panel_member: str | None = None  # an evaluator's address, lowercase
    disputes: bool = False  # a milestone in DISPUTE_STATUSES

    @staticmethod
    @lru_cache(maxsize=4096)
    def of(principal: Principal) -> Scope:
        """The scope of ``principal`` (by its roles as they are now)."""
        if principal.is_auditor or principal.has(Role.FINANCE_AUTHORITY):  # it watches every line's spending
            return Scope(everything=True)
        organization = principal.organization
        return Scope(
            ministry=organization if principal.is_ministry and organization else None,
            supplier_org=organization if principal.has(Role.SUPPLIER) and organization else None,
            panel_member=principal.address.lower() if principal.has(Role.EVALUATOR) else None,
            disputes=principal.has(Role.REVIEW_BODY),
        )

    @property
    def shape(self) -> tuple[str, ...]:
        """Which conditions apply: the key under which a statement with this scope is compiled once."""
        if self.everything:
            return ("everything",)
        present = (self.ministry, self.supplier_org, self.panel_member, self.disputes or None)
        return tuple(name for name, value in zip(_CONDITIONS, present, strict=True) if value is not None)

    def parameters(self) -> dict[str, Any]:
        """The values of the conditions' parameters (see ``where(bound=False)``)."""
        values: dict[str, Any] = {}
        if self.everything:
            return values
        if self.ministry is not None:
            values["scope_ministry"] = "0x" + org_id(self.ministry).hex()
        if self.supplier_org is not None:
            values["scope_supplier"] = "0x" + org_id(self.supplier_org).hex()
        if self.panel_member is not None:
            values["scope_panel_entry"] = f'"{self.panel_member}"'
        return values

    def where(self, *, bound: bool = True) -> ColumnElement[bool]:
        """The condition on the mirror's procurements table: with its values bound, or (``bound=False``) with
        parameters to give at execution (``parameters()``), so that one compiled statement serves every
        caller of the same ``shape``."""
        if self.everything:
            return true()
        values = self.parameters() if bound else None

        def param(name: str) -> Any:
            return bindparam(name) if values is None else bindparam(name, values[name])

        conditions: list[ColumnElement[bool]] = []
        if self.ministry is not None:
            conditions.append(_procurements.ministry_org == param("scope_ministry"))
        if self.supplier_org is not None:
            conditions.append(_procurements.supplier_org == param("scope_supplier"))
        if self.panel_member is not None:
            # The panel is a JSON list of checksummed addresses; hex digits hold no LIKE wildcards.
            conditions.append(func.lower(_procurements.panel).contains(param("scope_panel_entry")))
        if self.disputes:
            in_dispute = and_(
                _milestones.chain_id == _procurements.chain_id,
                _milestones.escrow == _procurements.escrow,
                _milestones.status.in_(_DISPUTE_STATUS_NAMES),
            )
            conditions.append(exists().where(in_dispute).correlate(ProcurementRow.__table__))
        return or_(*conditions) if conditions else false()

    def allows(self, terms: Terms, statuses: Callable[[], Iterable[MilestoneStatus]]) -> bool:
        """The same rule on a procurement's terms and its milestones' statuses (read only if they decide)."""
        if self.everything:
            return True
        if self.ministry is not None and terms.ministry == self.ministry:
            return True
        if self.supplier_org is not None and terms.supplier_org == self.supplier_org:
            return True
        if self.panel_member is not None and self.panel_member in (e.lower() for e in terms.evaluators):
            return True
        return self.disputes and any(status in DISPUTE_STATUSES for status in statuses())

    @property
    def reads_milestones(self) -> bool:
        """True if ``allows`` may need the milestones (a review body's scope)."""
        return self.disputes and not self.everything


_CONDITIONS = ("ministry", "supplier", "evaluator", "disputes")


_series = BudgetSeries.__table__.c
_grants = BudgetGrantRow.__table__.c


@dataclass(frozen=True)
class LineScope:
    """Which budget lines one account may see: all, or those of ``ministry`` (bytes32 hex) and granted to it."""

    everything: bool = False
    ministry: str | None = None

    @staticmethod
    def of(principal: Principal) -> LineScope:
        """The line scope of ``principal`` (by its roles as they are now)."""
        if principal.is_auditor or principal.has(Role.FINANCE_AUTHORITY):
            return LineScope(everything=True)
        if principal.is_ministry and principal.organization:
            return LineScope(ministry="0x" + org_id(principal.organization).hex())
        return LineScope()

    def where(self, series: Any, fiscal_year: Any, now: int | ColumnElement[int]) -> ColumnElement[bool]:
        """The condition on a line, given its ``series`` and ``fiscal_year`` columns (joined to ``budget_series``
        as ``_series``); ``now`` is the chain's clock (or a parameter that gives it), past which a grant has
        expired."""
        if self.everything:
            return true()
        if self.ministry is None:
            return false()
        granted = exists().where(
            _grants.chain_id == _series.chain_id,
            _grants.series == series,
            _grants.fiscal_year == fiscal_year,
            _grants.grantee == self.ministry,
            _grants.expires_at > now,
        )
        return or_(_series.ministry == self.ministry, granted)

    def allows(self, ministry: str, grantees: Iterable[tuple[str, int]], now: int) -> bool:
        """The same rule on a line's facts: its ministry and its grants as (grantee, expiry)."""
        if self.everything:
            return True
        if self.ministry is None:
            return False
        return ministry == self.ministry or any(g == self.ministry and expiry > now for g, expiry in grantees)
