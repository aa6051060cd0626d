"""The fixtures' graph built with cairn, for ``cairn import --graph``."""

from langchain_core.messages import AIMessage

from cairn.graph import END, START, StateGraph, add_messages
from cairn.types import Send, interrupt
from tests.langgraph_fixtures.models import build, build_fanout, build_nested

graph = build(StateGraph, START, END, add_messages, interrupt, AIMessage)
nested = build_nested(StateGraph, START, END, interrupt)
fanout = build_fanout(StateGraph, START, END, Send)
