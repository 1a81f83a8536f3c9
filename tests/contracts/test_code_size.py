"""Every contract's deployed code fits the EIP-170 limit (24,576 bytes), the escrow's with a margin."""

from __future__ import annotations

import pytest

from chain import compile_contracts

EIP170_LIMIT = 24_576


@pytest.mark.parametrize("name", ["AccessRegistry", "YenToken", "ProcurementFactory", "MilestoneEscrow"])
def test_deployed_code_fits_the_eip170_limit(name: str) -> None:
    size = len(bytes.fromhex(compile_contracts()[name].deployed_bytecode.removeprefix("0x")))
    assert 0 < size <= EIP170_LIMIT, f"{name}: {size:,} bytes of deployed code"
