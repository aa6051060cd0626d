"""``/store``: the long-term memory the graphs share (``cairn.store``, in the
server's database), for clients: put, get and delete an item, search items,
list namespaces. The store checks what it is given (StoreInputError: 422)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from cairn.errors import RequestError
from cairn.server.http import body_of, json_response, query_of, server_of
from cairn.server.validate import Fields

__all__ = ["routes"]


def _namespace(value: Any, field: str = "namespace") -> tuple[str, ...]:
    if isinstance(value, str):  # a query's "a.b.c"
        value = value.split(".") if value else []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RequestError(f"field {field!r} must be a list of strings, got {value!r}")
    return tuple(value)


def _key(fields: Fields) -> str:
    key = fields.get("key", str)
    if key is None:
        raise RequestError("field 'key' is required: the item's key in its namespace")
    return str(key)


async def put_item(request: Request) -> Response:
    body = await body_of(request)
    value = body.get("value", dict)
    if value is None:
        raise RequestError("field 'value' is required and must be an object")
    index = body.body.get("index")
    if index is not None and index is not False and not isinstance(index, list):
        raise RequestError(f"field 'index' must be false or a list of paths, got {index!r}")
    ttl = body.body.get("ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
        raise RequestError(f"field 'ttl' must be a number of minutes, got {ttl!r}")
    store = server_of(request).store
    namespace, key = _namespace(body.body.get("namespace")), _key(body)
    if ttl is None:  # the store's default TTL, if it has one
        await store.aput(namespace, key, value, index=index)
    else:
        await store.aput(namespace, key, value, index=index, ttl=ttl)
    return Response(status_code=204)


async def get_item(request: Request) -> Response:
    query = query_of(request)
    namespace = _namespace(query.body.get("namespace", ""))
    key = _key(query)
    item = await server_of(request).store.aget(namespace, key, refresh_ttl=query.flag("refresh_ttl", True))
    if item is None:
        raise RequestError(f"no item {key!r} in namespace {list(namespace)}", 404)
    return json_response(item.dict())


async def delete_item(request: Request) -> Response:
    body = await body_of(request)
    await server_of(request).store.adelete(_namespace(body.body.get("namespace")), _key(body))
    return Response(status_code=204)


async def search_items(request: Request) -> Response:
    body = await body_of(request)
    found = await server_of(request).store.asearch(
        _namespace(body.body.get("namespace_prefix", []), "namespace_prefix"),
        query=body.get("query", str),
        filter=body.get("filter", dict),
        limit=body.number("limit", 10, 0, 10000),
        offset=body.number("offset", 0),
        refresh_ttl=body.flag("refresh_ttl", True),
    )
    return json_response({"items": [item.dict() for item in found]})


async def list_namespaces(request: Request) -> Response:
    body = await body_of(request)
    prefix, suffix = body.body.get("prefix"), body.body.get("suffix")
    found = await server_of(request).store.alist_namespaces(
        prefix=_namespace(prefix, "prefix") if prefix is not None else None,
        suffix=_namespace(suffix, "suffix") if suffix is not None else None,
        max_depth=body.get("max_depth", int),
        limit=body.number("limit", 100, 0, 10000),
        offset=body.number("offset", 0),
    )
    return json_response({"namespaces": [list(ns) for ns in found]})


routes = [
    Route("/store/items", put_item, methods=["PUT"]),
    Route("/store/items", get_item, methods=["GET"]),
    Route("/store/items", delete_item, methods=["DELETE"]),
    Route("/store/items/search", search_items, methods=["POST"]),
    Route("/store/namespaces", list_namespaces, methods=["POST"]),
]
