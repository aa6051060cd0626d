"""``stream(version="v2")``: each chunk as LangGraph's typed stream part.

A part is a dict ``{"type": mode, "ns": namespace, "data": chunk}`` (the
``StreamPart`` types of ``cairn.types``), whatever the modes asked for and
whether subgraphs stream or not. As in LangGraph 1.2:

- a "values" part also holds ``interrupts`` (a tuple, empty unless the run
  paused on ``interrupt()``), never an ``"__interrupt__"`` key in ``data``;
- state values are shown as the schema's class when it is a pydantic model
  or a dataclass: a "values" part's data as the output schema, a
  checkpoint's values (in "checkpoints" and "debug") as the state schema,
  except the input checkpoint's, whose channels may not all be set yet.

A subgraph's parts use the subgraph's own classes (LangGraph applies the
top graph's classes to every namespace's values, which turns a subgraph's
state into the parent's class when both are models; cairn does not).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, NamedTuple

from cairn.errors import UnknownVersionError
from cairn.graph.constants import START
from cairn.graph.schema import StateSchema

__all__ = ["VERSIONS", "Parts", "Paused", "as_class", "is_v2"]

VERSIONS = ("v1", "v2")
"""The output formats of stream/invoke: "v1" (LangGraph's default) and "v2" (typed parts)."""


def is_v2(version: str) -> bool:
    """Whether ``version`` asks for parts; refuses what is neither "v1" nor "v2"."""
    if version == "v1":
        return False
    if version == "v2":
        return True
    raise UnknownVersionError(
        f"unknown version {version!r}; choose \"v1\" (the default: bare chunks, the state) or "
        "\"v2\" (StreamPart dicts, a GraphOutput)"
    )


class Paused(NamedTuple):
    """A "values" chunk of a run that paused on ``interrupt()``."""

    values: Any
    interrupts: tuple[Any, ...]


def as_class(schema: Any) -> Callable[[dict[str, Any]], Any] | None:
    """How a dict of state values becomes an instance of ``schema`` (a pydantic
    model or a dataclass), or None when values stay dicts."""
    if isinstance(schema, type) and (dataclasses.is_dataclass(schema) or hasattr(schema, "model_fields")):
        return lambda values: schema(**values)
    return None


class Parts:
    """Makes the parts of one graph's chunks (one per namespace's schema)."""

    def __init__(self, schema: StateSchema) -> None:
        one_value = schema.kind == "root"
        self.output: Callable[[dict[str, Any]], Any] | None = None if one_value else as_class(schema.output_schema)
        self.state: Callable[[dict[str, Any]], Any] | None = None if one_value else as_class(schema.schema)

    def part(self, mode: str, ns: tuple[str, ...], chunk: Any) -> dict[str, Any]:
        if mode == "values":
            return self._values(ns, chunk)
        if self.state is not None and mode in ("checkpoints", "debug"):
            chunk = self._checkpoint(chunk)
        return {"type": mode, "ns": ns, "data": chunk}

    def _values(self, ns: tuple[str, ...], chunk: Any) -> dict[str, Any]:
        interrupts: tuple[Any, ...] = ()
        if type(chunk) is Paused:
            # A state that is not a dict (an entrypoint's, one value) shows as {} then, as in LangGraph.
            chunk, interrupts = (chunk.values if isinstance(chunk.values, dict) else {}), chunk.interrupts
        if self.output is not None and isinstance(chunk, dict):
            chunk = self.output(chunk)
        return {"type": "values", "ns": ns, "data": chunk, "interrupts": interrupts}

    def _checkpoint(self, chunk: Any) -> Any:
        """A "checkpoints" payload or a "debug" chunk, its checkpoint's values
        as the state's class (a new dict: "checkpoints" and "debug" share a payload)."""
        assert self.state is not None
        if chunk.get("type") == "checkpoint":  # a debug chunk wraps the payload
            return {**chunk, "payload": self._checkpoint(chunk["payload"])}
        values = chunk.get("values")
        if not isinstance(values, dict) or START in chunk.get("next", ()):
            return chunk
        return {**chunk, "values": self.state(values)}
