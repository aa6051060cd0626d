"""Names with a fixed meaning in every graph."""

START = "__start__"
"""The virtual node a run begins at: ``add_edge(START, "first")``."""

END = "__end__"
"""The virtual node a run finishes at: ``add_edge("last", END)``."""

RESERVED_CHARS = (":", "|")
