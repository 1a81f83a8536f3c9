"""How deeply a request body may nest, and how deeply the gateway's process may recurse.

Python's JSON parser recurses in C once per nesting level, guarded only by the interpreter's recursion limit.
py_ecc (imported by eth-account, hence by web3) raises that limit to 100,000 at import, far past what the C
stack holds: a 180 KB body of ``[`` then ``]`` then overflows the stack and kills the process with a
segmentation fault instead of raising. So the gateway does two things:

* it sets the limit back to ``RECURSION_LIMIT`` when the app is built (``apply_recursion_limit``), a depth at
  which any C recursion still raises RecursionError long before the stack is used up;
* it measures a JSON body's nesting before anything parses it (``exceeds_depth``), in linear time and without
  recursion, and refuses one deeper than ``MAX_JSON_DEPTH`` with a 422 (see gateway.middleware).

No request body of this API nests deeper than 3 levels.
"""

from __future__ import annotations

import re
import sys
from array import array
from itertools import accumulate

__all__ = ["MAX_JSON_DEPTH", "RECURSION_LIMIT", "apply_recursion_limit", "exceeds_depth"]

MAX_JSON_DEPTH = 32
RECURSION_LIMIT = 3000  # CPython's default is 1000; py_ecc sets 100,000, which the C stack cannot hold

# A JSON string, up to its closing quote, or to the end of the body if it has none (so that every quote starts
# exactly one match and the scan stays linear: an unterminated string is simply invalid JSON, for the parser).
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_AS_STEPS = bytes.maketrans(b"[]", bytes([1, 255]))  # +1 and -1 as signed bytes


def apply_recursion_limit() -> None:
    """Run the process with the recursion limit the gateway chose (see the module docstring)."""
    sys.setrecursionlimit(RECURSION_LIMIT)


def exceeds_depth(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True if a JSON parser could nest deeper than ``limit`` arrays and objects to read ``body``.

    Brackets inside strings do not count. The depth is the highest running count of openers minus closers,
    computed by C-level byte operations (a few milliseconds for the largest hostile body, no recursion). For
    invalid JSON it is never below the depth a parser reaches before giving up.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    if b'"' in body:
        body = _STRING.sub(b"", body)
    brackets = body.translate(_BRACKETS_ONLY, _NOT_BRACKETS)
    if brackets.count(b"[") <= limit:
        return False
    if b"[" * (limit + 1) in brackets:
        return True
    return max(accumulate(array("b", brackets.translate(_AS_STEPS)))) > limit
