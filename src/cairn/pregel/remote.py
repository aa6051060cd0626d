"""``RemoteGraph``: a graph served by ``cairn serve`` (or any LangGraph
server), called as if it ran here.

    from cairn.pregel.remote import RemoteGraph      # langgraph.pregel.remote

    remote = RemoteGraph("agent", url="http://127.0.0.1:2024")
    remote.invoke({"messages": [...]}, {"configurable": {"thread_id": tid}})
    remote.get_state({"configurable": {"thread_id": tid}})
    builder.add_node("agent", remote)                 # a node of a local graph

It speaks the server's API through the official ``langgraph_sdk`` client
(``pip install 'cairn[remote]'``): ``invoke``/``stream`` create a run
(``POST /threads/{id}/runs/stream``, the thread made if it does not exist;
``/runs/stream`` without a thread id), ``get_state``, ``get_state_history``
and ``update_state`` read and write the thread's checkpoints, ``get_graph``
draws the served graph; each has its ``a*`` twin. What the server returns
comes back as cairn's own types (``StateSnapshot``, ``Interrupt``); an
``error`` event is raised as ``RemoteException``.

As a node of a local graph, it runs on the remote thread of the local
thread's id (with the local state as input) and an interrupt there pauses
the local run as well (``GraphInterrupt``), as LangGraph's does; answer it on
the remote thread (``remote.invoke(Command(resume=...), config)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator, Mapping, Sequence, Union
from uuid import UUID

from cairn.errors import CairnError, ConfigError, GraphInterrupt, MissingDependencyError
from cairn.runtime.parts import is_v2
from cairn.types import Command, GraphOutput, Interrupt, PregelTask, Send, StateSnapshot

if TYPE_CHECKING:
    from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient

__all__ = ["RemoteGraph", "RemoteException"]

_LOCAL = frozenset({"checkpoint_ns", "checkpoint_id", "checkpoint_map", "task_id"})
"""Keys of ``configurable`` that say where the local run is, not what the
remote one needs: never sent."""
_INTERRUPT = "__interrupt__"

Config = Mapping[str, Any]
Modes = Union[str, Sequence[str], None]


class RemoteException(CairnError):
    """The remote run failed: its ``error`` event (``.error``), as the server sent it."""

    def __init__(self, error: Any) -> None:
        super().__init__(f"the remote graph's run failed: {error}")
        self.error = error


def _clients() -> tuple[Any, Any]:
    try:
        from langgraph_sdk import get_client, get_sync_client
    except ImportError as exc:
        raise MissingDependencyError(
            "RemoteGraph talks to the server with langgraph_sdk: pip install 'cairn[remote]'"
        ) from exc
    return get_client, get_sync_client


class RemoteGraph:
    """A graph on a LangGraph API server, by its assistant id or graph name."""

    def __init__(
        self,
        assistant_id: str,
        /,
        *,
        url: str | None = None,
        api_key: str | None = None,
        headers: dict[str, str] | None = None,
        client: "LangGraphClient | None" = None,
        sync_client: "SyncLangGraphClient | None" = None,
        config: Config | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(assistant_id, str) or not assistant_id:
            raise ConfigError(
                f"RemoteGraph needs the assistant id or graph name as a string, got {assistant_id!r}"
            )
        if url is None and client is None and sync_client is None:
            raise ConfigError(
                f"RemoteGraph({assistant_id!r}) needs where the server is: url='http://host:2024', "
                "or a langgraph_sdk client= / sync_client="
            )
        self.assistant_id = assistant_id
        self.name = name or assistant_id
        self.config = dict(config) if config else None
        if url is not None:
            get_client, get_sync_client = _clients()
            client = client or get_client(url=url, api_key=api_key, headers=headers)
            sync_client = sync_client or get_sync_client(url=url, api_key=api_key, headers=headers)
        self.client = client
        self.sync_client = sync_client

    # -- configuration ---------------------------------------------------------------

    def with_config(self, config: Config | None = None) -> "RemoteGraph":
        """A copy whose calls merge ``config`` into theirs."""
        return RemoteGraph(
            self.assistant_id,
            client=self.client,
            sync_client=self.sync_client,
            config=_merge(self.config, config),
            name=self.name,
        )

    def _sync(self) -> "SyncLangGraphClient":
        if self.sync_client is None:
            raise ConfigError(
                f"RemoteGraph({self.assistant_id!r}) has no synchronous client: give it url= or "
                "sync_client=, or call the a* methods"
            )
        return self.sync_client

    def _async(self) -> "LangGraphClient":
        if self.client is None:
            raise ConfigError(
                f"RemoteGraph({self.assistant_id!r}) has no async client: give it url= or client=, "
                "or call the synchronous methods"
            )
        return self.client

    # -- running ---------------------------------------------------------------------

    def stream(
        self,
        input: Any,
        config: Config | None = None,
        *,
        context: Any = None,
        stream_mode: Modes = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        subgraphs: bool = False,
        metadata: Mapping[str, Any] | None = None,
        multitask_strategy: str | None = None,
        headers: dict[str, str] | None = None,
        version: str = "v1",
    ) -> Iterator[Any]:
        """Run the remote graph and yield what it streams, shaped as a local
        graph's ``stream`` yields it (``"updates"`` by default; with
        ``version="v2"``, ``StreamPart`` dicts)."""
        call = _Call(self, input, config, stream_mode, subgraphs, is_v2(version))
        for part in self._sync().runs.stream(
            **call.request(context, interrupt_before, interrupt_after, metadata, multitask_strategy, headers)
        ):
            yield from call.take(part.event, part.data)

    async def astream(
        self,
        input: Any,
        config: Config | None = None,
        *,
        context: Any = None,
        stream_mode: Modes = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        subgraphs: bool = False,
        metadata: Mapping[str, Any] | None = None,
        multitask_strategy: str | None = None,
        headers: dict[str, str] | None = None,
        version: str = "v1",
    ) -> AsyncIterator[Any]:
        """``stream`` for async code."""
        call = _Call(self, input, config, stream_mode, subgraphs, is_v2(version))
        async for part in self._async().runs.stream(
            **call.request(context, interrupt_before, interrupt_after, metadata, multitask_strategy, headers)
        ):
            for chunk in call.take(part.event, part.data):
                yield chunk

    def invoke(
        self,
        input: Any,
        config: Config | None = None,
        *,
        context: Any = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        multitask_strategy: str | None = None,
        headers: dict[str, str] | None = None,
        version: str = "v1",
    ) -> Any:
        """Run the remote graph to its end (or a pause) and return its last
        values (with ``"__interrupt__"`` when it paused in ``interrupt()``;
        with ``version="v2"``, a ``GraphOutput``)."""
        last = None
        for last in self.stream(
            input, config, context=context, stream_mode="values", interrupt_before=interrupt_before,
            interrupt_after=interrupt_after, metadata=metadata,
            multitask_strategy=multitask_strategy, headers=headers, version=version,
        ):
            pass
        return _output(last) if version == "v2" else last

    async def ainvoke(
        self,
        input: Any,
        config: Config | None = None,
        *,
        context: Any = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        multitask_strategy: str | None = None,
        headers: dict[str, str] | None = None,
        version: str = "v1",
    ) -> Any:
        """``invoke`` for async code."""
        last = None
        async for last in self.astream(
            input, config, context=context, stream_mode="values", interrupt_before=interrupt_before,
            interrupt_after=interrupt_after, metadata=metadata,
            multitask_strategy=multitask_strategy, headers=headers, version=version,
        ):
            pass
        return _output(last) if version == "v2" else last

    # -- as a node of a local graph ---------------------------------------------------

    def __call__(self, state: Any, config: Config) -> Any:
        """Run as a node: on the remote thread named as the local one, the
        local state as input; a remote interrupt pauses the local run."""
        return _as_node(self.invoke(state, config))

    async def acall(self, state: Any, config: Config) -> Any:
        """``__call__`` for the async API (``ainvoke``/``astream``) of the local graph."""
        return _as_node(await self.ainvoke(state, config))

    # -- state -----------------------------------------------------------------------

    def get_state(self, config: Config, *, subgraphs: bool = False) -> StateSnapshot:
        """The state of the thread of ``config`` (at its ``checkpoint_id`` if given)."""
        merged = _merge(self.config, config)
        found = self._sync().threads.get_state(
            thread_id=_thread(merged), checkpoint=_checkpoint(merged), subgraphs=subgraphs
        )
        return snapshot(found)

    async def aget_state(self, config: Config, *, subgraphs: bool = False) -> StateSnapshot:
        """``get_state`` for async code."""
        merged = _merge(self.config, config)
        found = await self._async().threads.get_state(
            thread_id=_thread(merged), checkpoint=_checkpoint(merged), subgraphs=subgraphs
        )
        return snapshot(found)

    def get_state_history(
        self,
        config: Config,
        *,
        filter: Mapping[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """The thread's states, newest first (10 unless ``limit`` says more)."""
        merged = _merge(self.config, config)
        found = self._sync().threads.get_history(
            thread_id=_thread(merged), limit=limit or 10, before=_checkpoint(before),
            metadata=dict(filter) if filter else None, checkpoint=_checkpoint(merged),
        )
        return iter([snapshot(state) for state in found])

    async def aget_state_history(
        self,
        config: Config,
        *,
        filter: Mapping[str, Any] | None = None,
        before: Config | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """``get_state_history`` for async code."""
        merged = _merge(self.config, config)
        found = await self._async().threads.get_history(
            thread_id=_thread(merged), limit=limit or 10, before=_checkpoint(before),
            metadata=dict(filter) if filter else None, checkpoint=_checkpoint(merged),
        )
        for state in found:
            yield snapshot(state)

    def update_state(
        self, config: Config, values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """Write ``values`` as if ``as_node`` had returned them (at the config's
        checkpoint: a fork); the new checkpoint's config."""
        merged = _merge(self.config, config)
        done = self._sync().threads.update_state(
            thread_id=_thread(merged), values=values, as_node=as_node, checkpoint=_checkpoint(merged)
        )
        return _config_of(done["checkpoint"])

    async def aupdate_state(
        self, config: Config, values: Any, as_node: str | None = None
    ) -> dict[str, Any]:
        """``update_state`` for async code."""
        merged = _merge(self.config, config)
        done = await self._async().threads.update_state(
            thread_id=_thread(merged), values=values, as_node=as_node, checkpoint=_checkpoint(merged)
        )
        return _config_of(done["checkpoint"])

    # -- drawing ---------------------------------------------------------------------

    def get_graph(self, config: Config | None = None, *, xray: int | bool = False) -> Any:
        """The served graph's drawing (a ``langchain_core`` Graph)."""
        return drawing(self._sync().assistants.get_graph(assistant_id=self.assistant_id, xray=xray))

    async def aget_graph(self, config: Config | None = None, *, xray: int | bool = False) -> Any:
        """``get_graph`` for async code."""
        return drawing(await self._async().assistants.get_graph(assistant_id=self.assistant_id, xray=xray))


@dataclass
class _Call:
    """One run: what is asked of the server, and how its events come back."""

    graph: RemoteGraph
    input: Any
    config: Config | None
    stream_mode: Modes
    subgraphs: bool
    parts: bool = False
    """``version="v2"``: yield ``StreamPart`` dicts."""

    def __post_init__(self) -> None:
        modes = self.stream_mode or "updates"
        self.single = isinstance(modes, str)
        self.asked = [modes] if isinstance(modes, str) else list(modes)
        # "updates" too, always: interrupts arrive there
        sent = ["messages-tuple" if m == "messages" else m for m in self.asked]
        self.sent = [*dict.fromkeys([*sent, "updates"])]

    def request(
        self,
        context: Any,
        interrupt_before: Sequence[str] | str | None,
        interrupt_after: Sequence[str] | str | None,
        metadata: Mapping[str, Any] | None,
        multitask_strategy: str | None,
        headers: dict[str, str] | None,
    ) -> dict[str, Any]:
        config = _sendable(_merge(self.graph.config, self.config))
        thread_id = config.get("configurable", {}).pop("thread_id", None)
        command = _command(self.input) if isinstance(self.input, Command) else None
        return {
            "thread_id": None if thread_id is None else str(thread_id),
            "assistant_id": self.graph.assistant_id,
            "input": None if command is not None else self.input,
            "command": command,
            "config": config,
            "context": context,
            "stream_mode": self.sent,
            "stream_subgraphs": self.subgraphs,
            "interrupt_before": interrupt_before,
            "interrupt_after": interrupt_after,
            "metadata": dict(metadata) if metadata else None,
            "multitask_strategy": multitask_strategy,
            "if_not_exists": "create" if thread_id is not None else None,
            "headers": headers,
        }

    def take(self, event: str, data: Any) -> Iterator[Any]:
        """What the caller sees of one server-sent event."""
        mode, _, rest = event.partition("|")
        ns = tuple(rest.split("|")) if rest else ()
        if mode == "error":
            raise RemoteException(data)
        if mode == "messages-tuple":
            mode, data = "messages", tuple(data)
        if mode not in self.asked or (ns and not self.subgraphs):
            return
        if self.parts:
            yield _part(mode, ns, data)
        elif self.subgraphs:
            yield (ns, data) if self.single else (ns, mode, data)
        else:
            yield data if self.single else (mode, data)


def _part(mode: str, ns: tuple[str, ...], data: Any) -> dict[str, Any]:
    """A ``version="v2"`` part of what the server streamed (as a local graph's)."""
    if mode != "values":
        return {"type": mode, "ns": ns, "data": data}
    interrupts: tuple[Interrupt, ...] = ()
    if isinstance(data, dict) and _INTERRUPT in data:
        data = dict(data)
        interrupts = tuple(_interrupt(i) for i in data.pop(_INTERRUPT) or ())
    return {"type": "values", "ns": ns, "data": data, "interrupts": interrupts}


def _output(last: dict[str, Any] | None) -> GraphOutput[Any] | None:
    """What ``invoke(version="v2")`` returns of the last "values" part (None: the run streamed none)."""
    if last is None:
        return None
    return GraphOutput(last["data"], tuple(last["interrupts"]))


def _as_node(values: Any) -> Any:
    if isinstance(values, dict) and values.get(_INTERRUPT):
        raise GraphInterrupt([_interrupt(i) for i in values[_INTERRUPT]])
    return values


def _interrupt(raw: Any) -> Interrupt:
    if isinstance(raw, dict):
        return Interrupt(value=raw.get("value"), id=str(raw.get("id") or ""))
    return Interrupt(value=raw)


def _command(command: Command[Any]) -> dict[str, Any]:
    sent: dict[str, Any] = {}
    if command.resume is not None:
        sent["resume"] = command.resume
    if command.update is not None:
        sent["update"] = command.update
    if command.goto:
        goto = [command.goto] if isinstance(command.goto, (str, Send)) else list(command.goto)
        sent["goto"] = [
            {"node": g.node, "input": g.arg} if isinstance(g, Send) else g for g in goto
        ]
    return sent


def _merge(base: Config | None, more: Config | None) -> dict[str, Any]:
    merged: dict[str, Any] = dict(base or {})
    for key, value in (more or {}).items():
        if key in ("configurable", "metadata") and isinstance(value, Mapping):
            merged[key] = {**merged.get(key, {}), **value}
        elif key == "tags" and value:
            merged[key] = [*merged.get(key, []), *value]
        else:
            merged[key] = value
    return merged


def _sendable(config: Config) -> dict[str, Any]:
    """What of a local config the server can take: plain values, without
    where the local run is."""
    sent: dict[str, Any] = {}
    if "recursion_limit" in config:
        sent["recursion_limit"] = config["recursion_limit"]
    if config.get("tags"):
        sent["tags"] = [t for t in config["tags"] if isinstance(t, str)]
    for key in ("metadata", "configurable"):
        if isinstance(config.get(key), Mapping):
            kept = {
                k: v
                for k, v in ((k, _plain(v)) for k, v in config[key].items())
                if isinstance(k, str) and not k.startswith("__") and k not in _LOCAL and v is not None
            }
            sent[key] = kept
    return sent


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {k: p for k, p in ((k, _plain(v)) for k, v in value.items()) if isinstance(k, str) and p is not None}
    if isinstance(value, (list, tuple)):
        return [p for p in (_plain(v) for v in value) if p is not None]
    return None


def _thread(config: Config) -> str:
    thread_id = config.get("configurable", {}).get("thread_id")
    if thread_id is None:
        raise ConfigError(
            "RemoteGraph needs the thread: pass config={'configurable': {'thread_id': ...}}"
        )
    return str(thread_id)


def _checkpoint(config: Config | None) -> Any:  # the SDK's Checkpoint, a TypedDict
    conf = (config or {}).get("configurable", {})
    found = {k: conf[k] for k in ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map") if k in conf}
    return found or None


def _config_of(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "configurable": {
            "thread_id": checkpoint["thread_id"],
            "checkpoint_ns": checkpoint.get("checkpoint_ns", ""),
            "checkpoint_id": checkpoint["checkpoint_id"],
        }
    }


def snapshot(state: Mapping[str, Any]) -> StateSnapshot:
    """A ``StateSnapshot`` of the server's thread state."""
    tasks = tuple(
        PregelTask(
            id=task["id"],
            name=task["name"],
            error=task.get("error"),
            interrupts=tuple(_interrupt(i) for i in task.get("interrupts") or ()),
            state=snapshot(task["state"]) if task.get("state") else (
                {"configurable": task["checkpoint"]} if task.get("checkpoint") else None
            ),
            result=task.get("result"),
        )
        for task in state.get("tasks") or ()
    )
    parent = state.get("parent_checkpoint")
    return StateSnapshot(
        values=state["values"],
        next=tuple(state.get("next") or ()),
        config=_config_of(state["checkpoint"]),
        metadata=state.get("metadata"),
        created_at=state.get("created_at"),
        parent_config=_config_of(parent) if parent else None,
        tasks=tasks,
        interrupts=tuple(i for task in tasks for i in task.interrupts),
    )


def drawing(shape: Mapping[str, Any]) -> Any:
    """The ``langchain_core`` Graph of the server's JSON drawing."""
    try:
        from langchain_core.runnables.graph import Edge, Graph, Node
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            "get_graph() draws with LangChain's graph: pip install 'cairn[langchain]'"
        ) from exc
    nodes = {}
    for node in shape["nodes"]:
        node_id = str(node["id"])
        data = node.get("data", {})
        name = node.get("name") or (data.get("name", node_id) if isinstance(data, dict) else node_id)
        nodes[node_id] = Node(id=node_id, name=name, data=data, metadata=node.get("metadata"))
    edges = [
        Edge(source=e["source"], target=e["target"], data=e.get("data"), conditional=e.get("conditional", False))
        for e in shape["edges"]
    ]
    return Graph(nodes=nodes, edges=edges)
