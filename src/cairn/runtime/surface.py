"""The runnable surface a compiled graph shares with LangGraph's, beyond
running and reading state: ``get_graph``, the input and output JSON schemas,
``with_config``, ``batch`` and ``abatch``."""

from __future__ import annotations

import asyncio
import dataclasses
import typing
from typing import Any, Mapping, Sequence, Union

from cairn.errors import ArgumentTypeError, MissingDependencyError
from cairn.graph.drawing import draw
from cairn.graph.spec import GraphSpec

__all__ = ["Configured", "RunnableSurface"]


class RunnableSurface:
    """Mixed into ``CompiledStateGraph``."""

    spec: GraphSpec

    def invoke(self, input: Any, config: Any = None) -> Any:  # pragma: no cover - the graph's
        raise NotImplementedError

    async def ainvoke(self, input: Any, config: Any = None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def get_graph(self, config: Any = None, *, xray: Union[bool, int] = False) -> Any:
        """The graph's shape as LangChain's ``Graph`` (``draw_mermaid()``,
        ``draw_ascii()``, ``to_json()``), subgraphs drawn inside with ``xray``."""
        return draw(self.spec, xray)

    def get_input_jsonschema(self, config: Any = None) -> dict[str, Any]:
        """The JSON schema of what ``invoke`` takes."""
        schema = self.spec.schema
        return _json_schema(schema.input_schema, schema.input_keys)

    def get_output_jsonschema(self, config: Any = None) -> dict[str, Any]:
        """The JSON schema of what ``invoke`` returns."""
        schema = self.spec.schema
        return _json_schema(schema.output_schema, schema.output_keys)

    def with_config(
        self,
        config: Any = None,
        *,
        configurable: Mapping[str, Any] | None = None,
        recursion_limit: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        run_name: str | None = None,
        callbacks: Any = None,
        max_concurrency: int | None = None,
    ) -> "Configured":
        """This graph with ``config`` (and the config keys given by name)
        under every call's own config: ``graph.with_config(recursion_limit=50)``."""
        named = {
            "configurable": configurable,
            "recursion_limit": recursion_limit,
            "metadata": metadata,
            "tags": tags,
            "run_name": run_name,
            "callbacks": callbacks,
            "max_concurrency": max_concurrency,
        }
        given = {k: v for k, v in named.items() if v is not None}
        return Configured(self, _merged(_as_dict(config), given))

    def batch(
        self,
        inputs: Sequence[Any],
        config: Any = None,
        *,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """``invoke`` each input (with its config, when ``config`` is a list),
        in order; with ``return_exceptions`` an input that fails gives its
        exception instead of raising it."""
        results = []
        for value, own in zip(inputs, _configs(config, len(inputs))):
            try:
                results.append(self.invoke(value, own))
            except Exception as exc:
                if not return_exceptions:
                    raise
                results.append(exc)
        return results

    async def abatch(
        self,
        inputs: Sequence[Any],
        config: Any = None,
        *,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """The async twin of ``batch``: the inputs run side by side."""
        runs = [self.ainvoke(value, own) for value, own in zip(inputs, _configs(config, len(inputs)))]
        return list(await asyncio.gather(*runs, return_exceptions=return_exceptions))


class Configured:
    """A compiled graph with a config under every call's (``with_config``):
    every other attribute is the graph's."""

    _RUNS = ("invoke", "ainvoke", "stream", "astream", "batch", "abatch")
    """Calls taking (input, config, ...)."""
    _READS = (
        "get_state", "aget_state", "get_state_history", "aget_state_history",
        "update_state", "aupdate_state", "bulk_update_state", "abulk_update_state",
    )
    """Calls taking (config, ...)."""

    def __init__(self, graph: Any, config: Mapping[str, Any]) -> None:
        self._graph = graph
        self._config = dict(config)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._graph, name)
        if name == "with_config":  # the graph's, whose parameters are named, layered on this config

            def layered(*args: Any, **named: Any) -> Configured:
                return Configured(self._graph, _merged(self._config, attribute(*args, **named)._config))

            return layered
        if name in self._READS:
            return lambda config=None, *args, **kwargs: attribute(self._under(config), *args, **kwargs)
        if name not in self._RUNS:
            return attribute

        def run(input: Any, config: Any = None, *args: Any, **kwargs: Any) -> Any:
            if isinstance(config, list):  # batch's configs, one per input
                return attribute(input, [self._under(c) for c in config], *args, **kwargs)
            return attribute(input, self._under(config), *args, **kwargs)

        return run

    def _under(self, config: Any) -> dict[str, Any]:
        return _merged(self._config, _as_dict(config))


def _as_dict(config: Any) -> Mapping[str, Any]:
    if config is None:
        return {}
    if isinstance(config, str):
        return {"configurable": {"thread_id": config}}
    if not isinstance(config, Mapping):
        raise ArgumentTypeError(f"config must be a dict, got {type(config).__name__} {config!r}")
    if "configurable" not in config and "thread_id" in config:
        return {"configurable": dict(config)}
    return config


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, their ``configurable`` and ``metadata`` merged too."""
    merged = {**base, **over}
    for key in ("configurable", "metadata"):
        if key in base and key in over:
            merged[key] = {**base[key], **over[key]}
    return merged


def _configs(config: Any, count: int) -> list[Any]:
    if isinstance(config, list):
        if len(config) != count:
            raise ArgumentTypeError(
                f"batch got {count} inputs and {len(config)} configs; give one config, "
                "or one per input"
            )
        return config
    return [config] * count


def _json_schema(schema: Any, keys: Any) -> dict[str, Any]:
    """A JSON schema of ``schema``'s keys (only ``keys`` when given), made
    with pydantic: a pydantic model's own, else a model of its fields."""
    try:
        import pydantic
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "JSON schemas are made with pydantic: pip install 'cairn[langchain]' (or pydantic)"
        ) from exc

    if isinstance(schema, type) and issubclass(schema, pydantic.BaseModel) and keys is None:
        return schema.model_json_schema()
    if schema is dict or not isinstance(schema, type):
        return {"title": "State", "type": "object"}
    hints = typing.get_type_hints(schema)
    required = _required(schema, hints)
    fields: dict[str, Any] = {
        name: (hint, ... if name in required else None)
        for name, hint in hints.items()
        if keys is None or name in keys
    }
    return pydantic.create_model(schema.__name__, **fields).model_json_schema()


def _required(schema: type, hints: Mapping[str, Any]) -> set[str]:
    if dataclasses.is_dataclass(schema):
        return {
            f.name
            for f in dataclasses.fields(schema)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
    if hasattr(schema, "model_fields"):
        return {name for name, field in schema.model_fields.items() if field.is_required()}
    return set(getattr(schema, "__required_keys__", hints))
