"""Red flags for the gateway: every flag of the mirror (``indexer.flags``), computed once per change of the mirror,
and who may read them.

Who reads flags follows gateway/scope.py: an auditor (whose scope is everything) and the finance authority read every
flag; a ministry's accounts (admin, officer, treasury: ``Scope.ministry``) read the flags of their ministry's
procurements; anyone else (suppliers, evaluators, review bodies, whose scope is their own procurements or disputes)
none: a flag names procurements and accounts beyond their scope. The same rule decides whether a procurement read
carries its ``flags`` count (null otherwise).

The flags are computed from the whole mirror (block times from the node) the first time they are asked for, then
again in the background once the mirror has moved and ``flags_refresh_s`` have passed since the last computation;
until it is done, readers get the previous computation (``as_of_block`` says which block it covers). A procurement
read therefore costs one dictionary lookup.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from chain import Role
from chain.errors import LedgerError
from gateway.core.config import Settings
from gateway.errors import Forbidden, GatewayError, InvalidInput, ServiceUnavailable
from gateway.identity import Principal
from gateway.ledger import Ledger
from gateway.scope import Scope
from indexer.cursor import mirror_version
from indexer.flags import RULES, Context, Flag, find_flags, load_thresholds
from indexer.ocds.releases import ChainBlockTimes, Publication
from indexer.ocds.specs import SpecRegister, default_spec_paths

__all__ = ["FlagSnapshot", "FlagView", "RedFlags", "count_flags", "escrows_named", "red_flags"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlagView:
    """Which flags an account reads: all, or its ministry's (by organization code)."""

    ministry: str | None  # None: every ministry's

    @staticmethod
    def of(principal: Principal) -> FlagView | None:
        """The view of ``principal``, or None if it may read no flag."""
        scope = Scope.of(principal)
        if scope.everything or principal.has(Role.FINANCE_AUTHORITY):
            return FlagView(None)
        if scope.ministry is not None:
            return FlagView(scope.ministry)
        return None

    @staticmethod
    def required(principal: Principal) -> FlagView:
        """The view of ``principal``; Forbidden if it has none."""
        view = FlagView.of(principal)
        if view is None:
            raise Forbidden(
                "red flags are read by auditors, the finance authority and a ministry's accounts (its own "
                "procurements'); this account holds none of those roles"
            )
        return view

    def shows(self, flag: Flag) -> bool:
        """Whether this view includes ``flag``."""
        return self.ministry is None or flag.buyer == self.ministry

    def select(
        self, flags: Sequence[Flag], *, ministry: str | None, fiscal_year: int | None, rule: str | None
    ) -> list[Flag]:
        """The flags of ``flags`` this view includes, filtered (a filter given as None does not apply): Forbidden
        for another ministry than the view's, InvalidInput for a rule that does not exist."""
        ministry = ministry.upper() if ministry else None
        if self.ministry is not None and ministry is not None and ministry != self.ministry:
            raise Forbidden(f"this account reads the flags of {self.ministry} only, not of {ministry}")
        if rule is not None and rule not in RULES:
            raise InvalidInput(f"rule: unknown rule {rule!r}; the rules are {', '.join(RULES)}")
        return [
            flag
            for flag in flags
            if self.shows(flag)
            and (ministry is None or flag.buyer == ministry)
            and (fiscal_year is None or flag.fiscal_year == fiscal_year)
            and (rule is None or flag.rule == rule)
        ]


@dataclass(frozen=True)
class FlagSnapshot:
    """Every flag of the mirror as of one block, and how many name each procurement (by escrow, lowercase)."""

    as_of_block: int
    flags: tuple[Flag, ...]
    counts: Mapping[str, int]

    @staticmethod
    def of(block: int, flags: list[Flag]) -> FlagSnapshot:
        """The snapshot of ``flags``: a flag counts for its procurement and for each one its records name."""
        counts: Counter[str] = Counter()
        for flag in flags:
            counts.update(escrows_named(flag))
        return FlagSnapshot(block, tuple(flags), dict(counts))

    def count(self, escrow: str) -> int:
        """The flags naming the procurement of ``escrow``."""
        return self.counts.get(escrow.lower(), 0)

    def naming(self, escrow: str, view: FlagView) -> list[Flag]:
        """The flags naming the procurement of ``escrow`` that ``view`` includes."""
        if not self.count(escrow):
            return []
        return [flag for flag in self.flags if view.shows(flag) and escrow.lower() in escrows_named(flag)]


def escrows_named(flag: Flag) -> set[str]:
    """The procurements a flag names (by escrow, lowercase): its own and those its records list."""
    named = {str(escrow).lower() for escrow in flag.records.get("escrows", ())}
    if flag.escrow is not None:
        named.add(flag.escrow.lower())
    return named


class RedFlags:
    """The mirror's flags, recomputed when the mirror moved (in the background, at most every ``refresh_s``)."""

    def __init__(self, settings: Settings, ledger: Ledger, engine: Engine) -> None:
        self.thresholds = load_thresholds(settings.flags_thresholds)
        paths = [settings.spec_dir] if settings.spec_dir is not None else default_spec_paths(settings.var_dir)
        self.paths = paths
        self.prefix = settings.ocid_prefix
        self.refresh_s = settings.flags_refresh_s
        self.engine = engine
        self.chain_id = ledger.chain_id
        self.block_times = ChainBlockTimes(ledger.rpc)
        self._snapshot: FlagSnapshot | None = None
        self._checked = 0.0  # monotonic time of the last computation (or of the last look at the mirror)
        self._lock = threading.Lock()  # one computation at a time

    def snapshot(self) -> FlagSnapshot:
        """The latest computation: made now if there is none yet, else refreshed in the background if stale."""
        current = self._snapshot
        if current is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = self._compute()
                return self._snapshot
        if time.monotonic() - self._checked >= self.refresh_s and not self._lock.locked():
            self._checked = time.monotonic()
            threading.Thread(target=self._refresh, name="red-flags", daemon=True).start()
        return current

    def _refresh(self) -> None:
        if not self._lock.acquire(blocking=False):
            return
        try:
            with self.engine.connect() as conn:
                version = mirror_version(conn, self.chain_id)
            if (
                version is not None
                and self._snapshot is not None
                and version.block_number != self._snapshot.as_of_block
            ):
                self._snapshot = self._compute()
        except Exception:  # a background refresh that fails leaves the last snapshot served
            served = self._snapshot.as_of_block if self._snapshot is not None else None
            _log.exception("red flags: the refresh failed; the flags of block %s are still served", served)
        finally:
            self._lock.release()

    def _compute(self) -> FlagSnapshot:
        started = time.monotonic()
        with self.engine.connect() as conn:
            version = mirror_version(conn, self.chain_id)
            if version is None:
                raise ServiceUnavailable("the mirror has not synced this chain yet: run the indexer")
            try:
                publication = Publication(ocid_prefix=self.prefix, specs=SpecRegister.load(self.paths))
                flags = find_flags(Context(conn, self.chain_id, self.thresholds, self.block_times, publication))
            except LedgerError as exc:  # a spec file that is not one, a node that does not answer
                _log.error("red flags: %s", exc)
                raise ServiceUnavailable("the red flags cannot be computed now (see the log)") from None
        self._checked = time.monotonic()
        took = self._checked - started
        _log.info("red flags: %d computed at block %d in %.2f s", len(flags), version.block_number, took)
        return FlagSnapshot.of(version.block_number, flags)


def count_flags(app_state: Any, principal: Principal, procurements: Sequence[Any]) -> None:
    """Set each procurement read's ``flags`` (how many flags name it) if ``principal`` may read flags; left null
    otherwise, and when the flags cannot be computed now (the read itself does not fail for that)."""
    view = FlagView.of(principal)
    if view is None or not procurements:
        return
    try:
        snapshot = red_flags(app_state.gateway, app_state).snapshot()
    except GatewayError:
        return
    for procurement in procurements:
        if view.ministry is None or procurement.ministry == view.ministry:
            procurement.flags = snapshot.count(procurement.escrow)


def red_flags(state: Any, app_state: Any) -> RedFlags:
    """The app's ``RedFlags`` (made on first use); 503 if the thresholds file is not one."""
    board: RedFlags | None = getattr(app_state, "red_flags", None)
    if board is None:
        try:
            board = RedFlags(state.settings, state.ledger, state.engine)
        except LedgerError as exc:
            _log.error("red flags: %s", exc)
            raise ServiceUnavailable(
                "the red flags are unavailable: the thresholds file is invalid (see the log)"
            ) from None
        app_state.red_flags = board
    return board
