"""The project's exception tree: one root, one subclass per area."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "ChainError",
    "CompilationError",
    "ConfigurationError",
    "ContractRevert",
    "DecodeError",
    "LedgerError",
    "ProviderError",
    "SignatureError",
    "TransactionFailed",
]


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""


class ConfigurationError(LedgerError):
    """A setting, file or environment value is missing or wrong."""


class CompilationError(LedgerError):
    """The Solidity sources did not compile, or no compiler could be found."""


class ChainError(LedgerError):
    """Talking to the chain failed."""


class SignatureError(LedgerError):
    """A signature or typed-data payload is malformed."""


class ProviderError(ChainError):
    """The node refused or failed a request (e.g. a log range too large); ``error`` is its JSON-RPC error object,
    if it answered with one."""

    def __init__(self, message: str, error: Any = None) -> None:
        super().__init__(message)
        self.error = error


class DecodeError(ChainError, ValueError):
    """Data does not match the ABI it should have (e.g. a log and the event its topic names)."""


class TransactionFailed(ChainError):
    """A transaction was mined but failed without a decodable reason."""


class ContractRevert(ChainError):
    """A contract call reverted with a known Solidity custom error.

    ``name`` is the custom error's name and ``args_by_name`` its decoded arguments, in order and by name; the
    message is the error in words (``chain/revert_words.py``), ``raw`` its Solidity form.
    """

    def __init__(self, name: str, args: dict[str, Any], contract: str | None = None) -> None:
        from chain.revert_words import explain

        self.name = name
        self.args_by_name = args
        self.contract = contract
        rendered = ", ".join(f"{key}={_render(value)}" for key, value in args.items())
        self.raw = f"{name}({rendered})"
        """The Solidity form, name and arguments (for ``--verbose`` and problem+json's extension members)."""
        self.sentence = explain(self)
        """What went wrong, in words (``str(exc)``); ``explain`` says it again with the accounts' organizations."""
        super().__init__(self.sentence)

    def __str__(self) -> str:
        return self.sentence

    def explain(
        self,
        organization_of: Callable[[str], str | None] | None,
        due_date_of: Callable[[int], int | None] | None = None,
    ) -> str:
        """Say the error again, naming the organization of each account ``organization_of`` knows (and a
        milestone's due date, if ``due_date_of`` gives it); kept as ``sentence`` (and so ``str(exc)``)."""
        from chain.revert_words import explain

        self.sentence = explain(self, organization_of, due_date_of)
        return self.sentence

    @property
    def values(self) -> tuple[Any, ...]:
        """The decoded arguments in declaration order."""
        return tuple(self.args_by_name.values())


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, str):
        return value if value.startswith("0x") else repr(value)
    return str(value)
