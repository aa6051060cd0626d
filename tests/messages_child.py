"""A chat graph over ``MessagesState`` run in a child process, by
tests/test_langchain_messages.py and tests/test_messages.py.

Started from the repository root as

    python -m tests.messages_child [--without-langchain] write|read SQLITE_FILE

``--without-langchain`` first makes ``langchain_core`` unimportable, as if it
were not installed. ``write`` runs the chat on thread "t" with a dict, a
``(role, content)`` tuple and a string, and replaces the first message by
its id through ``update_state``. ``read`` prints one line per message of
``get_state``: ``<type> <role> <content>``, then ``langchain_core imported:
<bool>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

if "--without-langchain" in sys.argv:
    sys.modules["langchain_core"] = None  # type: ignore[assignment]

from cairn.checkpoint.sqlite import SqliteSaver  # noqa: E402
from cairn.graph import START, MessagesState, StateGraph  # noqa: E402

ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def role(message: Any) -> str:
    """A message's role, whether it is a plain dict or a LangChain message."""
    return message["role"] if isinstance(message, dict) else ROLES[message.type]


def text(message: Any) -> str:
    return message["content"] if isinstance(message, dict) else message.content


def message_id(message: Any) -> Any:
    return message["id"] if isinstance(message, dict) else message.id


def bot(state: MessagesState) -> dict[str, Any]:
    return {"messages": [("assistant", f"re: {text(state['messages'][-1])}")]}


def build(path: str) -> Any:
    graph = StateGraph(MessagesState).add_node("bot", bot).add_edge(START, "bot")
    return graph.compile(checkpointer=SqliteSaver(path))


def write(path: str) -> None:
    graph = build(path)
    graph.invoke({"messages": [{"role": "user", "content": "hi"}]}, "t")
    graph.invoke({"messages": ("user", "how are you?")}, "t")
    graph.invoke({"messages": "bye"}, "t")
    first = graph.get_state("t").values["messages"][0]
    edit = {"role": "user", "content": "hello", "id": message_id(first)}
    graph.update_state("t", {"messages": [edit]})


def read(path: str) -> None:
    for message in build(path).get_state("t").values["messages"]:
        print(type(message).__name__, role(message), text(message))
    print("langchain_core imported:", sys.modules.get("langchain_core") is not None)


def run_child(*args: str) -> list[str]:
    """Run this module in a child process with ``args``; the lines it printed."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root / "src"), str(root), *filter(None, [env.get("PYTHONPATH")])]
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.messages_child", *args],
        capture_output=True, text=True, timeout=60, cwd=root, env=env,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


if __name__ == "__main__":
    command, target = [a for a in sys.argv[1:] if not a.startswith("--")]
    {"write": write, "read": read}[command](target)
