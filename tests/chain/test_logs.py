"""Reading and decoding logs: every ABI shape against eth_abi's own encoding, strings that are not UTF-8,
malformed data, and the node access on eth-tester."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from web3.logs import DISCARD

from chain import Artifact, Build
from chain.logs import CONTRACT_KINDS, ChainSource, DecodeError, EventDecoder, checksum
from tests.world import World

ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _param(name: str, kind: str, *, indexed: bool = False, components: list[dict[str, Any]] | None = None) -> Any:
    param: dict[str, Any] = {"name": name, "type": kind, "indexed": indexed}
    if components is not None:
        param["components"] = components
    return param


ITEM = [_param("id", "uint64"), _param("label", "string")]
EVENT: dict[str, Any] = {
    "type": "event",
    "name": "Everything",
    "anonymous": False,
    "inputs": [
        _param("who", "address", indexed=True),
        _param("amount", "uint256"),
        _param("delta", "int128"),
        _param("flag", "bool"),
        _param("tag", "bytes4"),
        _param("topicName", "string", indexed=True),  # only its hash reaches the topic
        _param("blob", "bytes"),
        _param("note", "string"),
        _param("names", "string[]"),
        _param("pair", "uint8[2]"),
        _param("items", "tuple[]", components=ITEM),
        _param("fixedItem", "tuple", components=[_param("a", "uint256"), _param("b", "address")]),
    ],
}
DATA_TYPES = ["uint256", "int128", "bool", "bytes4", "bytes", "bytes", "bytes[]", "uint8[2]", "(uint64,bytes)[]"]
DATA_TYPES.append("(uint256,address)")
SIGNATURE = (
    "Everything(address,uint256,int128,bool,bytes4,string,bytes,string,string[],uint8[2],(uint64,string)[],"
    "(uint256,address))"
)
TOPIC = "0x" + keccak(text=SIGNATURE).hex()


def _decoder() -> EventDecoder:
    artifacts = {
        contract: Artifact(contract, "", (EVENT,) if kind == "registry" else (), "", "", "", "")
        for kind, contract in CONTRACT_KINDS.items()
    }
    return EventDecoder(Build("", "", artifacts))


def _log(data: bytes, topics: list[str] | None = None) -> dict[str, Any]:
    return {
        "address": ADDRESS.lower(),
        "topics": topics if topics is not None else [TOPIC, "0x" + "00" * 12 + ADDRESS[2:].lower(), "0x" + "ab" * 32],
        "data": "0x" + data.hex(),
        "blockNumber": "0x10",
        "blockHash": "0x" + "CD" * 32,
        "transactionHash": "0x" + "EF" * 32,
        "transactionIndex": "0x2",
        "logIndex": "0x7",
    }


def _data(note: bytes = b"plain", names: tuple[bytes, ...] = (b"a", b"\xce\xbb")) -> bytes:
    values = [
        2**256 - 1,
        -(2**100),
        True,
        b"\x01\x02\x03\x04",
        b"\x00\xff",
        note,
        list(names),
        [7, 255],
        [(1, b"one"), (2**64 - 1, "żółw".encode())],
        (42, ADDRESS),
    ]
    return abi_encode(DATA_TYPES, values)


def test_every_abi_shape_decodes_as_eth_abi_encoded_it() -> None:
    log = _decoder().decode(_log(_data()), "registry", 31337)
    assert log is not None
    assert (log.block_number, log.block_hash, log.tx_hash, log.tx_index, log.log_index) == (
        16, "0x" + "cd" * 32, "0x" + "ef" * 32, 2, 7,
    )  # fmt: skip
    assert (log.emitter, log.kind, log.event) == (ADDRESS, "registry", "Everything")
    assert log.args == {
        "who": ADDRESS,
        "amount": 2**256 - 1,
        "delta": -(2**100),
        "flag": True,
        "tag": "0x01020304",
        "topicName": "0x" + "ab" * 32,
        "blob": "0x00ff",
        "note": "plain",
        "names": ["a", "λ"],
        "pair": [7, 255],
        "items": [{"id": 1, "label": "one"}, {"id": 2**64 - 1, "label": "żółw"}],
        "fixedItem": {"a": 42, "b": ADDRESS},
    }
    assert list(log.args) == [p["name"] for p in EVENT["inputs"]]  # declaration order
    assert log.raw_strings == {}


def test_strings_that_are_not_utf8_text_are_replaced_and_kept_as_raw_bytes() -> None:
    bad, nul = b"lot \xff\xfe 1", b"a\x00b"
    log = _decoder().decode(_log(_data(note=bad, names=(b"ok", nul))), "registry", 31337)
    assert log is not None
    assert log.args["note"] == "lot \ufffd\ufffd 1"
    assert log.args["names"] == ["ok", "a\ufffdb"]  # NUL cannot be stored in SQL text: replaced too
    assert log.raw_strings == {"note": "0x" + bad.hex(), "names.1": "0x" + nul.hex()}


def test_an_unknown_topic_or_kind_is_none_and_a_malformed_log_a_decode_error() -> None:
    decoder = _decoder()
    assert decoder.decode(_log(_data(), ["0x" + "11" * 32]), "registry", 1) is None
    assert decoder.decode(_log(_data()), "escrow", 1) is None
    assert decoder.decode(_log(_data(), []), "registry", 1) is None
    with pytest.raises(DecodeError, match="has 2 topics"):
        decoder.decode(_log(_data(), [TOPIC, "0x" + "00" * 32]), "registry", 1)
    with pytest.raises(DecodeError, match="cannot decode Everything"):
        decoder.decode(_log(_data()[:-64]), "registry", 1)  # the last string's content cut off
    with pytest.raises(DecodeError, match="cannot decode Everything"):
        decoder.decode(_log(_data()[:64]), "registry", 1)  # not even the head
    corrupt = bytearray(_data())
    corrupt[32 * 4 + 24] = 0x7F  # the offset of ``blob`` (5th head word) now points far past the end
    with pytest.raises(DecodeError, match="past the end"):
        decoder.decode(_log(bytes(corrupt)), "registry", 1)


def test_the_ledgers_events_decode_as_web3_decodes_them(world: World) -> None:
    decoder = EventDecoder(world.build)
    source = ChainSource(world.rpc)
    contracts = {checksum(world.system.registry): world.registry, checksum(world.system.token): world.token}
    kinds = {checksum(world.system.registry): "registry", checksum(world.system.token): "token"}
    checked = 0
    for raw in source.logs(0, source.head(), decoder.topics()):
        emitter = checksum(raw["address"])
        if emitter not in kinds:
            continue
        ours = decoder.decode(raw, kinds[emitter], source.chain_id)
        assert ours is not None
        receipt = world.w3.eth.get_transaction_receipt(raw["transactionHash"])
        event = getattr(contracts[emitter].events, ours.event)()
        (theirs,) = [e for e in event.process_receipt(receipt, errors=DISCARD) if e["logIndex"] == ours.log_index]
        assert ours.args == {name: _plain(value) for name, value in theirs["args"].items()}
        checked += 1
    assert checked > 20


def _plain(value: Any) -> Any:
    return "0x" + bytes(value).hex() if isinstance(value, bytes) else value


def test_the_source_reads_headers_and_the_head(world: World) -> None:
    source = ChainSource(world.rpc)
    head = source.head()
    header = source.header(head)
    assert header is not None
    assert header.number == head
    parent = source.header(head - 1)
    assert parent is not None
    assert header.parent_hash == parent.hash
    assert source.header(head + 1000) is None
    assert source.chain_id == world.w3.eth.chain_id


def test_a_topic_in_upper_case_or_shorter_than_a_word_decodes_as_the_readers_pad_it() -> None:
    decoder = _decoder()
    expected = decoder.decode(_log(_data()), "registry", 31337)
    assert expected is not None
    upper = [TOPIC, "0x" + "00" * 12 + ADDRESS[2:].upper(), "0x" + "AB" * 32]
    short = [TOPIC, "0x" + ADDRESS[2:].lower(), "0x" + "ab" * 32]  # the compiled reader leaves it to the readers
    for topics in (upper, short):
        log = decoder.decode(_log(_data(), topics), "registry", 31337)
        assert log is not None
        assert log.args == expected.args
        assert list(log.args) == list(expected.args)


def test_logs_of_one_block_or_transaction_share_its_hash_and_others_get_their_own() -> None:
    decoder = _decoder()

    def decoded(block: str, tx: str) -> Any:
        log = decoder.decode({**_log(_data()), "blockHash": block, "transactionHash": tx}, "registry", 31337)
        assert log is not None
        return log

    block_a, block_b, tx_a, tx_b = "0x" + "AA" * 32, "0x" + "BB" * 32, "0x" + "1A" * 32, "0x" + "2B" * 32
    first, second = decoded(block_a, tx_a), decoded(block_a, tx_a)
    assert (second.block_hash, second.tx_hash) == ("0x" + "aa" * 32, "0x" + "1a" * 32)
    assert second.block_hash is first.block_hash  # so a plan marshals it once
    assert second.tx_hash is first.tx_hash
    other_tx = decoded(block_a, tx_b)
    assert (other_tx.block_hash, other_tx.tx_hash) == ("0x" + "aa" * 32, "0x" + "2b" * 32)
    other_block = decoded(block_b, tx_b)
    assert (other_block.block_hash, other_block.tx_hash) == ("0x" + "bb" * 32, "0x" + "2b" * 32)
    back = decoded(block_a, tx_a)  # only the previous log's hashes are remembered: never a stale one
    assert (back.block_hash, back.tx_hash) == ("0x" + "aa" * 32, "0x" + "1a" * 32)
