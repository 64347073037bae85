"""Texts holding a NUL character (U+0000) are refused before a handler reads them.

PostgreSQL cannot store one in a text or JSON column: a prompt, a client or tenant name, or an
audit filter holding one answered 500 there, while SQLite kept it. A request is checked where a
NUL can hide: the query (`%00`), the path (`%00`, or the character itself once decoded), a JSON
body (the escape `\\u0000`; the body is decoded to name the field only when the escape is there,
and a literal backslash before `u0000` is not a NUL) and a form body (`%00`). Other bodies (a PNG
to trace) are bytes, not text, and are not looked at.

A JSON body nested deeper than `MAX_JSON_DEPTH` is refused here too: decoding one a thousand
levels deep exhausts the interpreter's recursion limit inside msgspec, which answered 500. Only
a body with more brackets than that limit is decoded for the check, so ordinary bodies cost two
byte counts.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

_JSON_NUL = b"\\u0000"
_URL_NUL = b"%00"
_NO_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})


MAX_JSON_DEPTH = 64
"""Levels of arrays and objects a JSON body may nest; the API's deepest (a license's terms) use
fewer than ten."""


class JsonTooDeepError(ValueError):
    """A JSON body nests arrays and objects deeper than `MAX_JSON_DEPTH`."""

    def __init__(self) -> None:
        super().__init__(f"the JSON body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")


class NulCharacterError(ValueError):
    """A text of the request holds U+0000; `source` is query, path or body, `field` where."""

    def __init__(self, source: str, field: str | None) -> None:
        where = f"{source} field {field!r}" if field else f"the {source}"
        super().__init__(f"NUL characters (U+0000) are not accepted: {where} holds one")
        self.source = source
        self.field = field


async def refuse_nul(request: Request[Any, Any, Any]) -> None:
    """Litestar `before_request` hook."""
    scope = request.scope
    if _URL_NUL in scope["query_string"]:
        raise NulCharacterError("query", _query_field(scope["query_string"]))
    if "\x00" in scope["path"]:
        raise NulCharacterError("path", None)
    if scope["method"] in _NO_BODY:
        return
    content_type = b""
    for name, value in scope["headers"]:  # the raw headers: no `Headers` object made here
        if name == b"content-type":
            content_type = value
            break
    if b"json" in content_type:
        body = await request.body()  # kept by Litestar for the handler
        if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and _too_deep(body):
            raise JsonTooDeepError
        if _JSON_NUL in body:
            field = _json_field(body)
            if field is not None:
                raise NulCharacterError("body", field or None)
    elif content_type.startswith(b"application/x-www-form-urlencoded"):
        body = await request.body()
        if _URL_NUL in body:
            raise NulCharacterError("body", _query_field(body))


def _query_field(encoded: bytes) -> str | None:
    for pair in encoded.split(b"&"):
        if _URL_NUL in pair:
            name = pair.partition(b"=")[0]
            return name.decode("ascii", "replace") if _URL_NUL not in name else None
    return None


def _too_deep(body: bytes) -> bool:
    try:
        value = msgspec.json.decode(body)
    except RecursionError:
        return True
    except msgspec.DecodeError:
        return False  # not JSON: the handler says why
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            if depth > MAX_JSON_DEPTH:
                return True
            pending.extend((child, depth + 1) for child in children)
    return False


def _json_field(body: bytes) -> str | None:
    """Where the decoded body holds U+0000 ("" for the top level), or None when it holds none
    (or does not decode: the handler says why)."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return _find(value, "")


def _find(value: object, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return where
            found = _find(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _find(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None
