"""Names with a fixed meaning in every graph."""

START = "__start__"
"""The virtual node a run begins at: ``add_edge(START, "first")``."""

END = "__end__"
"""The virtual node a run finishes at: ``add_edge("last", END)``."""

RESERVED_CHARS = (":", "|")

TAG_NOSTREAM = "nostream"
"""Tag of a chat model whose tokens are not streamed (stream_mode="messages")."""
TAG_HIDDEN = "langsmith:hidden"
"""Tag that hides a node or edge from tracing and drawing."""


class Transient:
    """Marks a state key that is never stored: ``Annotated[str, Transient]``.

    The key's value lives in the running process only (the run's state, what
    ``invoke`` returns); checkpoints, pending writes and the input stored for
    a resume leave it out. A resumed or replayed run, or another process,
    sees the key as never written. For secrets and large scratch data (seed
    001's sensitive fields).
    """
