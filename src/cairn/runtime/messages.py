"""``stream_mode="messages"``: the messages of LangChain chat models that
nodes call, token by token, as ``(message_chunk, metadata)``.

While a task runs, LangChain's context variable for the config of child
runnables holds a callback handler and the task's metadata (LangGraph's
keys: ``langgraph_step``, ``langgraph_node``, ``langgraph_triggers``,
``langgraph_path``, ``langgraph_checkpoint_ns``), so a chat model a node
calls without passing a config reports to the stream, and streams even when
called with ``invoke``. The handler hands each token chunk out with the
metadata the model started with; a model that produced no chunks hands out
its whole message at the end. A message a node returns in its update that
no model streamed goes out when the task finishes. langchain_core is
imported only when this mode is asked for.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, Mapping
from uuid import UUID

from cairn.checkpoint.base import TaskRecord
from cairn.errors import MissingDependencyError
from cairn.graph.constants import START, TAG_NOSTREAM

if TYPE_CHECKING:
    from cairn.runtime.events import Events

__all__ = ["MessagesMode"]


class MessagesMode:
    """The "messages" stream of one run."""

    def __init__(self, events: "Events", base: Mapping[str, Any], ns: str) -> None:
        try:
            from langchain_core.callbacks import BaseCallbackHandler
            from langchain_core.messages import BaseMessage
            from langchain_core.runnables.config import var_child_runnable_config
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise MissingDependencyError(
                "stream_mode='messages' streams LangChain chat models: pip install "
                "'cairn[langchain]' (langchain_core)"
            ) from exc
        self._events = events
        self._base = dict(base)
        self._ns = ns
        self._message_class = BaseMessage
        self._config_var: contextvars.ContextVar[Any] = var_child_runnable_config
        self.seen: set[str] = set()
        """Ids of the messages handed out, so a node's returned message that a
        model already streamed is not handed out again."""
        self._handler = _handler_class(BaseCallbackHandler)(self)

    def metadata(self, task: TaskRecord, step: int) -> dict[str, Any]:
        """The metadata of what ``task`` streams at ``step``, as LangGraph's."""
        own = f"{task.name}:{task.id}"
        return {
            **self._base,
            "langgraph_step": step,
            "langgraph_node": task.name,
            "langgraph_triggers": ("__pregel_push",) if task.push else (f"branch:to:{task.name}",),
            "langgraph_path": ("__pregel_push",) if task.push else ("__pregel_pull", task.name),
            "langgraph_checkpoint_ns": f"{self._ns}|{own}" if self._ns else own,
        }

    def enter(self, task: TaskRecord, step: int) -> None:
        """Called in the task's own context before it runs: the chat models
        it calls report to this stream."""
        metadata = self.metadata(task, step)
        metadata["checkpoint_ns"] = metadata["langgraph_checkpoint_ns"]
        outer = self._config_var.get() or {}
        callbacks = outer.get("callbacks")
        handlers = [*callbacks, self._handler] if isinstance(callbacks, list) else [self._handler]
        self._config_var.set({**outer, "callbacks": handlers, "metadata": {**outer.get("metadata", {}), **metadata}})

    def emit(self, message: Any, metadata: Mapping[str, Any]) -> None:
        if getattr(message, "id", None):
            self.seen.add(message.id)
        self._events.message(message, dict(metadata))

    def model_event(self, kind: str, run_id: UUID, started: Mapping[str, Any], data: dict[str, Any]) -> None:
        """A chat model's ``on_chat_model_*`` event, for ``astream_events``."""
        self._events.model_event(
            {
                "event": f"on_chat_model_{kind}",
                "name": started["name"],
                "run_id": str(run_id),
                "tags": list(started["tags"]),
                "metadata": dict(started["metadata"]),
                "data": data,
                "parent_ids": [],
            }
        )

    def returned(self, task: TaskRecord, update: Any, step: int) -> None:
        """Hand out the message objects ``task`` returned that no model
        streamed (not the input's: the start task is not a node); ``update``:
        as the node returned it (a list of one-key updates, when its Commands
        wrote a key twice), so messages given as dicts or tuples are not
        handed out, as in LangGraph."""
        if not update or task.name == START:
            return
        metadata: dict[str, Any] | None = None
        values = [v for u in update for v in u.values()] if isinstance(update, list) else update.values()
        for value in values:
            for item in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(item, self._message_class) and item.id not in self.seen:
                    metadata = metadata or {**self.metadata(task, step), "ls_integration": "langgraph"}
                    self.emit(item, metadata)


def _handler_class(base: type) -> Callable[[MessagesMode], Any]:
    class StreamMessages(base):  # type: ignore[misc, valid-type]
        """Reports chat model tokens to the "messages" stream. Its
        ``tap_output_*`` methods make LangChain see a streaming handler, so a
        model invoked with ``invoke`` streams too."""

        run_inline = True  # called in the model's thread, in order

        def __init__(self, mode: MessagesMode) -> None:
            super().__init__()
            self.mode = mode
            self.runs: dict[UUID, tuple[dict[str, Any], bool]] = {}
            self.started: dict[UUID, dict[str, Any]] = {}

        def tap_output_iter(self, run_id: UUID, output: Iterator[Any]) -> Iterator[Any]:
            return output

        def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[Any]) -> AsyncIterator[Any]:
            return output

        def on_chat_model_start(
            self,
            serialized: Any,
            messages: Any,
            *,
            run_id: UUID,
            tags: list[str] | None = None,
            metadata: dict[str, Any] | None = None,
            **rest: Any,
        ) -> None:
            if metadata and "langgraph_node" in metadata and TAG_NOSTREAM not in (tags or ()):
                self.runs[run_id] = (metadata, False)
                name = (rest.get("name") or (serialized or {}).get("name")
                        or ((serialized or {}).get("id") or ["chat_model"])[-1])
                self.started[run_id] = {"name": name, "tags": tags or [], "metadata": metadata}
                self.mode.model_event("start", run_id, self.started[run_id], {"input": {"messages": messages}})

        def on_llm_new_token(self, token: str, *, run_id: UUID, chunk: Any = None, **rest: Any) -> None:
            started = self.runs.get(run_id)
            message = getattr(chunk, "message", None)
            if started is None or message is None:
                return
            self.runs[run_id] = (started[0], True)
            self.mode.emit(message, started[0])
            self.mode.model_event("stream", run_id, self.started[run_id], {"chunk": message})

        def on_llm_end(self, response: Any, *, run_id: UUID, **rest: Any) -> None:
            started = self.runs.pop(run_id, None)
            if started is None:
                return
            generations = getattr(response, "generations", None) or [[]]
            message = next((getattr(g, "message", None) for g in generations[0][:1]), None)
            if message is not None and not started[1]:
                self.mode.emit(message, started[0])
            self.mode.model_event("end", run_id, self.started.pop(run_id), {"output": message})

        def on_llm_error(self, error: BaseException, *, run_id: UUID, **rest: Any) -> None:
            self.runs.pop(run_id, None)
            self.started.pop(run_id, None)

    return StreamMessages
