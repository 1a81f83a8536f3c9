"""Another organization's mirror, read through its gateway (``GET /audit/digests``, ``GET /events``) as a source
for ``indexer.compare.compare_mirrors``. The account signed in must be an auditor or the finance authority there
(the registry is the same chain's: an auditor of one mirror is an auditor of every mirror of that chain)."""

from __future__ import annotations

from gateway.client import GatewayClient, GatewayError
from indexer.canonical import canonical_json
from indexer.compare import DigestLine, EventLine

__all__ = ["GatewayMirror"]


class GatewayMirror:
    """A mirror behind a gateway."""

    def __init__(self, name: str, client: GatewayClient, chain_id: int) -> None:
        self.name = name
        self.client = client
        self.chain_id = chain_id

    def _page(self, from_block: int, to_block: int | None, limit: int) -> dict[str, object]:
        params: dict[str, int] = {"from": from_block, "limit": limit}
        if to_block is not None:
            params["to"] = to_block
        page = self.client.get("/audit/digests", params)
        if not isinstance(page, dict) or page.get("chainId") != self.chain_id:
            found = page.get("chainId") if isinstance(page, dict) else None
            raise GatewayError(0, "Another chain", f"{self.name} mirrors chain {found}, not {self.chain_id}")
        return page

    def head(self) -> int | None:
        found = self._page(0, 0, 1)["mirroredBlock"]
        return None if found is None else int(str(found))

    def digests(self, from_block: int, to_block: int, limit: int) -> list[DigestLine]:
        page = self._page(from_block, to_block, limit)
        try:
            return [
                DigestLine(
                    int(line["blockNumber"]),
                    str(line["blockHash"]),
                    int(line["eventCount"]),
                    str(line["digest"]),
                    str(line["chainHash"]),
                )
                for line in page["data"]  # type: ignore[attr-defined]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayError(0, "Unreadable digests", f"{self.name} answered a digest page without {exc}") from None

    def events(self, block_number: int) -> list[EventLine]:
        lines: list[EventLine] = []
        cursor: str | None = None
        while True:  # pages until an empty one (the server may cap a page below what is asked)
            params: dict[str, object] = {"fromBlock": block_number, "toBlock": block_number, "limit": 500}
            if cursor is not None:
                params["cursor"] = cursor
            page = self.client.get("/events", params)
            try:
                if not page["data"]:
                    return lines
                for event in page["data"]:
                    lines.append(
                        EventLine(
                            str(event["txHash"]),
                            int(event["logIndex"]),
                            str(event["emitter"]),
                            str(event["event"]),
                            canonical_json(event["args"]),
                        )
                    )
                cursor = str(page["nextCursor"])
            except (KeyError, TypeError, ValueError) as exc:
                raise GatewayError(
                    0, "Unreadable events", f"{self.name} answered an events page without {exc}"
                ) from None
