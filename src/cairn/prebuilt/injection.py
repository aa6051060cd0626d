"""Tool arguments the graph fills in, hidden from the model.

A tool parameter annotated ``Annotated[dict, InjectedState]`` receives the
graph's state (``InjectedState("key")``: one key of it), one annotated
``Annotated[Any, InjectedStore()]`` the graph's store, and one annotated
``Annotated[str, InjectedToolCallId]`` (langchain_core's) the id of the call,
and one annotated ``ToolRuntime`` (or named ``runtime``) all of these with
the run's context, config and stream writer.
Each is a subclass of langchain_core's ``InjectedToolArg``, so that
langchain_core leaves these parameters out of the schema the model sees
(``tool.tool_call_schema``); ``ToolNode`` fills them in at each call and drops
any value the model sent for them.
"""

from __future__ import annotations

from cairn.prebuilt import _requires  # noqa: F401  (first: names the extra when missing)

from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Generic, Mapping, TypeVar, Union, get_args, get_origin, get_type_hints

from langchain_core.tools import BaseTool, InjectedToolArg, InjectedToolCallId
from langchain_core.tools.base import (
    _DirectlyInjectedToolArg,
    _is_injected_arg_type,
    get_all_basemodel_annotations,
)

from cairn.errors import ToolInjectionError

__all__ = ["InjectedState", "InjectedStore", "InjectedToolCallId", "Injections", "ToolRuntime", "injections_of"]

ContextT = TypeVar("ContextT")
StateT = TypeVar("StateT")


class InjectedState(InjectedToolArg):
    """Marks a tool parameter that receives the graph's state, or one key of it.

    >>> @tool
    ... def greet(name: str, state: Annotated[dict, InjectedState]) -> str: ...
    >>> @tool
    ... def count(user: Annotated[str, InjectedState("user")]) -> str: ...
    """

    def __init__(self, field: str | None = None) -> None:
        self.field = field


class InjectedStore(InjectedToolArg):
    """Marks a tool parameter that receives the store the graph was compiled
    with (``compile(store=...)``, ``create_react_agent(store=...)``)."""


@dataclass
class ToolRuntime(_DirectlyInjectedToolArg, Generic[ContextT, StateT]):
    """What a tool parameter annotated ``ToolRuntime`` (or named ``runtime``)
    receives: the state, the call's id, the config, and the run's context,
    store and stream writer (LangGraph's ``ToolRuntime``).

    >>> @tool
    ... def whoami(runtime: ToolRuntime) -> str:
    ...     return runtime.context["user"]
    """

    state: Any
    context: Any
    config: Any
    stream_writer: Callable[[Any], None]
    tool_call_id: str | None
    store: Any
    tools: list[BaseTool] = field(default_factory=list)


def _marker(annotation: Any, kind: type) -> Any:
    """The ``kind`` marker in ``annotation`` (an instance, or the class given
    bare), looking inside ``Annotated`` and unions; None when there is none."""
    if isinstance(annotation, kind) or (isinstance(annotation, type) and issubclass(annotation, kind)):
        return annotation
    if get_origin(annotation) in (Annotated, Union) or type(annotation).__name__ == "UnionType":
        for inner in get_args(annotation):
            if (found := _marker(inner, kind)) is not None:
                return found
    return None


@dataclass(frozen=True)
class Injections:
    """What ``ToolNode`` fills in for one tool."""

    state: Mapping[str, str | None] = field(default_factory=dict)
    """Parameter -> the state key it receives (None: the whole state)."""
    optional_state: frozenset[str] = frozenset()
    """Parameters of ``state`` with a default: left out when the key is missing."""
    store: str | None = None
    """The parameter that receives the store."""
    runtime: str | None = None
    """The parameter that receives a ``ToolRuntime``."""
    hidden: frozenset[str] = frozenset()
    """Every injected parameter (langchain_core's own included): values the
    model sends for them are dropped."""

    def fill(
        self,
        tool_name: str,
        args: Mapping[str, Any],
        state: Any,
        store: Any,
        runtime: Callable[[], ToolRuntime[Any, Any]],
    ) -> dict[str, Any]:
        """``args`` (from the model) without injected parameters, plus the graph's values."""
        filled = {k: v for k, v in args.items() if k not in self.hidden}
        for param, key in self.state.items():
            if key is None:
                filled[param] = state
            elif isinstance(state, Mapping) and key in state:
                filled[param] = state[key]
            elif not isinstance(state, Mapping) and hasattr(state, key):
                filled[param] = getattr(state, key)
            elif param not in self.optional_state:
                raise ToolInjectionError(
                    f"tool {tool_name!r} takes {param!r} from the state's key {key!r}, which the "
                    f"state does not hold (it holds {sorted(_keys(state))}); add {key!r} to the "
                    "state schema or give the parameter a default"
                )
        if self.store is not None:
            if store is None:
                raise ToolInjectionError(
                    f"tool {tool_name!r} takes the store in {self.store!r} (InjectedStore), but "
                    "the graph has none: compile it with store=..., or pass store= to "
                    "create_react_agent"
                )
            filled[self.store] = store
        if self.runtime is not None:
            filled[self.runtime] = runtime()
        return filled


def _keys(state: Any) -> list[str]:
    if isinstance(state, Mapping):
        return [str(k) for k in state]
    return [k for k in vars(state)] if hasattr(state, "__dict__") else []


def injections_of(tool: BaseTool) -> Injections:
    """Read which parameters of ``tool`` the graph fills in, from its
    argument schema and (for a function tool) the function's annotations."""
    schema = tool.get_input_schema()
    annotations: dict[str, Any] = {}
    fn = getattr(tool, "func", None) or getattr(tool, "coroutine", None)
    if fn is not None:
        try:
            annotations.update(get_type_hints(fn, include_extras=True))
        except Exception:  # unresolvable annotations: the schema's are enough
            pass
    annotations.update(get_all_basemodel_annotations(schema))
    state: dict[str, str | None] = {}
    optional: set[str] = set()
    store: str | None = None
    runtime: str | None = None
    hidden: set[str] = set()
    fields = getattr(schema, "model_fields", {})
    for name, annotation in annotations.items():
        if _is_injected_arg_type(annotation):
            hidden.add(name)
        if (found := _marker(annotation, InjectedState)) is not None:
            key = found.field if isinstance(found, InjectedState) else None
            state[name] = key
            hidden.add(name)
            if key is not None and name in fields and not fields[name].is_required():
                optional.add(name)
        if _marker(annotation, InjectedStore) is not None:
            store = name
            hidden.add(name)
        if name == "runtime" or _is_tool_runtime(annotation):
            runtime = name
            hidden.add(name)
    return Injections(state, frozenset(optional), store, runtime, frozenset(hidden))


def _is_tool_runtime(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Annotated, Union) or type(annotation).__name__ == "UnionType":
        return any(_is_tool_runtime(a) for a in get_args(annotation))
    target = origin if origin is not None else annotation
    return isinstance(target, type) and issubclass(target, ToolRuntime)
