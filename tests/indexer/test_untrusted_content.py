"""Content the ledger's users control never stops the mirror: a procurement title that is not UTF-8 (and holds a
NUL, which SQL text refuses) is indexed losslessly, and indexing goes on."""

from __future__ import annotations

import json

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from sqlalchemy import Engine, select

from chain.logs import ChainSource
from indexer.audit import verify
from indexer.canonical import INVALID_UTF8
from indexer.models import EventRow, ProcurementRow
from indexer.sync import Indexer
from tests.helpers import new_escrow
from tests.world import World

_PARAMS = "(bytes32,address,address[],uint8,uint256[],uint64[],bytes32,{},uint32,uint32)"
_LINE = "(uint16,bytes32,bytes32,bytes32,bytes32)"
_CREATE = "createProcurement(" + _PARAMS.format("string") + ",uint256," + _LINE + ",bytes32)"


def test_a_title_that_is_not_utf8_is_stored_losslessly_and_indexing_goes_on(engine: Engine, world: World) -> None:
    params = world.procurement_params(title="placeholder")
    title = b"Night-vision \xff\xfe lot\x001"  # the officer chose these bytes: invalid UTF-8 and a NUL
    # ``string`` and ``bytes`` have the same ABI encoding: encode the raw bytes as the title.
    calldata = keccak(text=_CREATE)[:4] + abi_encode(
        [_PARAMS.format("bytes"), "uint256", _LINE, "bytes32"],
        [(*params[:7], title, *params[8:]), sum(params[4]), world.line_of("officer").as_tuple(), b"\x00" * 32],
    )
    world.sender("officer").send_data(world.factory.address, calldata)
    later, _ = new_escrow(world, title="Radar spares")  # a procurement after it, to show indexing goes on

    with Indexer(engine, ChainSource(world.rpc), world.system, world.build) as indexer:
        indexer.catch_up()

    with engine.connect() as conn:
        titles = dict(conn.execute(select(ProcurementRow.escrow, ProcurementRow.title)).all())
        (args,) = conn.scalars(select(EventRow.args).where(EventRow.event == "ProcurementCreated")).all()[:1]
    assert titles[later.address] == "Radar spares"
    assert sorted(titles.values()) == ["Night-vision \ufffd\ufffd lot\ufffd1", "Radar spares"]
    stored = json.loads(args)
    assert stored["params"]["title"] == "Night-vision \ufffd\ufffd lot\ufffd1"
    assert stored[INVALID_UTF8] == {"params.title": "0x" + title.hex()}  # the exact bytes, kept
    report = verify(engine, ChainSource(world.rpc), world.system, world.build)
    assert report.differences == []
