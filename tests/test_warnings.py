"""``UnknownKeyWarning`` points at the user's code: the node that wrote the
key (its ``def`` line), or the line that passed the input or the update."""

from __future__ import annotations

import asyncio
import inspect
import warnings
from typing import Any, TypedDict

import pytest

from cairn.checkpoint.memory import InMemorySaver
from cairn.errors import InvalidUpdateError
from cairn.graph import START, StateGraph
from cairn.warnings import UnknownKeyWarning
from tests.support import thread


class State(TypedDict):
    plain: str


def writes_a_stray_key(state: State) -> dict[str, Any]:
    return {"plain": "ok", "stray": 1}


def graph() -> Any:
    builder = StateGraph(State).add_node("writer", writes_a_stray_key).add_edge(START, "writer")
    return builder.compile(checkpointer=InMemorySaver())


def test_a_nodes_unknown_key_warning_points_at_the_node_and_names_it() -> None:
    with pytest.warns(UnknownKeyWarning, match="node 'writer' wrote key\\(s\\) \\['stray'\\]") as caught:
        graph().invoke({"plain": ""}, thread("t"))
    assert caught[0].filename == __file__
    assert caught[0].lineno == inspect.getsourcelines(writes_a_stray_key)[1]


def test_an_inputs_unknown_key_warning_points_at_the_line_that_passed_it() -> None:
    compiled = graph()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        compiled.invoke({"plain": "", "typo": 1}, thread("t"))
    found = [w for w in caught if issubclass(w.category, UnknownKeyWarning) and "typo" in str(w.message)]
    assert [(w.filename, w.lineno) for w in found] == [(__file__, line)]


def test_an_update_states_unknown_key_warning_points_at_the_line_that_passed_it() -> None:
    compiled = graph()
    with pytest.warns(UnknownKeyWarning, match="stray"):  # the node's, not this test's
        compiled.invoke({"plain": ""}, thread("t"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        compiled.update_state(thread("t"), {"plain": "x", "oops": 2}, as_node="writer")
    found = [w for w in caught if "update_state(as_node='writer') wrote key(s) ['oops']" in str(w.message)]
    assert [(w.filename, w.lineno) for w in found] == [(__file__, line)]


def test_the_warning_is_a_user_warning_and_strict_makes_it_an_error() -> None:
    assert issubclass(UnknownKeyWarning, UserWarning)
    builder = StateGraph(State).add_node("writer", writes_a_stray_key).add_edge(START, "writer")
    with pytest.raises(InvalidUpdateError, match="'stray'.*add them to the schema"):
        builder.compile(strict=True).invoke({"plain": ""})


def test_an_async_inputs_unknown_key_warning_points_at_the_line_that_awaited_it(tmp_path: Any) -> None:
    """The input is read on the saver's I/O thread; the warning still names
    the caller's line."""
    from cairn.checkpoint.sqlite import SqliteSaver

    builder = StateGraph(State).add_node("writer", lambda state: {"plain": "ok"}).add_edge(START, "writer")
    with SqliteSaver(tmp_path / "w.db") as saver:
        compiled = builder.compile(checkpointer=saver)

        async def main() -> int:
            line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
            await compiled.ainvoke({"plain": "", "typo": 1}, thread("t"))
            return line

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            line = asyncio.run(main())
    found = [w for w in caught if issubclass(w.category, UnknownKeyWarning) and "typo" in str(w.message)]
    assert [(w.filename, w.lineno) for w in found] == [(__file__, line)]
