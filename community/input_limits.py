"""What no request body or websocket frame may hold: a NUL character, or JSON nested deeper
than any of ours is.

PostgreSQL text (and jsonb) cannot hold NUL (0x00), so a value carrying one fails at its
query as a 500; JSON nested thousands of levels deep makes Python's parser raise
RecursionError, another 500 (or a websocket dropped without a close frame). Both are refused
at the edges, before anything parses the body: `community.middleware` for HTTP,
`community.websocket` for websocket frames. The checks work on the raw bytes and cost a few
`bytes.count` calls for an ordinary body; only a body with more brackets than the limit, or
with a NUL escape somewhere in it, is looked at more closely.
"""

import re
from itertools import accumulate

# The deepest JSON any request or frame here needs is 4 levels; this leaves room for clients
# that wrap bodies, and stays far below Python's recursion limit (1,000).
JSON_MAX_DEPTH = 64

NUL_MESSAGE = "The request holds a NUL character (%00), which no text here may contain."
DEPTH_MESSAGE = f"The JSON sent is nested more than {JSON_MAX_DEPTH} levels deep."

# A JSON string literal; quotes and backslashes are ASCII, so this is safe on UTF-8 bytes. One
# left open runs to the end: the pattern always matches at a quote, so the scan stays linear.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*\\?(?:"|\Z)', re.DOTALL)
# \u0000 after an even number of backslashes (an odd number before the u): the escape of NUL,
# not the text "\u0000" (written "\\u0000").
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def json_depth_exceeds(raw: bytes, limit: int = JSON_MAX_DEPTH) -> bool:
    """Whether the JSON text in `raw` nests arrays and objects more than `limit` levels deep
    (brackets inside strings do not count). Works on text that is not valid JSON too."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _NOT_A_BRACKET.sub(b"", _STRING.sub(b"", raw))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def json_holds_nul(raw: bytes) -> bool:
    """Whether `raw` holds a NUL byte or a JSON escape of NUL (\\u0000)."""
    if b"\x00" in raw:
        return True
    return b"\\u0000" in raw and _NUL_ESCAPE.search(raw) is not None


def json_problem(raw: bytes) -> str | None:
    """Why a JSON body or frame is refused, or None when it may be parsed."""
    if json_holds_nul(raw):
        return NUL_MESSAGE
    if json_depth_exceeds(raw):
        return DEPTH_MESSAGE
    return None
