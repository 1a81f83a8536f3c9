"""Japan Standard Time: how the ledger shows a time to people (``2027-06-30 23:59 JST``) and to programs (ISO 8601
with its offset, ``2027-06-30T23:59:59+09:00``, next to the block number it comes from)."""

from __future__ import annotations

import datetime as dt

__all__ = ["JST", "iso", "jst"]

JST = dt.timezone(dt.timedelta(hours=9), "JST")


def jst(timestamp: int) -> str:
    """A unix time as people in Japan read it: ``2027-06-30 23:59 JST``."""
    try:
        return dt.datetime.fromtimestamp(int(timestamp), JST).strftime("%Y-%m-%d %H:%M JST")
    except (OverflowError, OSError, ValueError):
        return f"unix time {timestamp}"


def iso(timestamp: int) -> str:
    """A unix time in ISO 8601 with the JST offset: ``2027-06-30T23:59:59+09:00``."""
    return dt.datetime.fromtimestamp(int(timestamp), JST).isoformat()
