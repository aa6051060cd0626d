"""The warnings cairn gives, and LangGraph's deprecation warnings under their
``langgraph.warnings`` names (cairn warns with them where LangGraph does, so
``warnings.filterwarnings(..., category=LangGraphDeprecatedSinceV10)`` works
after porting)."""

from __future__ import annotations

__all__ = [
    "CairnDeprecationWarning",
    "LangGraphDeprecatedSinceV05",
    "LangGraphDeprecatedSinceV10",
    "LangGraphDeprecatedSinceV11",
    "LangGraphDeprecationWarning",
    "UnknownKeyWarning",
]


class UnknownKeyWarning(UserWarning):
    """A node, the input or ``update_state`` wrote a key that is not in the
    state schema; it was dropped (``compile(strict=True)`` makes it an error).
    The warning points at the node's definition, or at the caller's line."""


class CairnDeprecationWarning(DeprecationWarning):
    """Something LangGraph deprecated, kept for ported code: says since which
    LangGraph version, when LangGraph means to remove it, and what to use."""

    message: str
    since: tuple[int, int]
    expected_removal: tuple[int, int]

    def __init__(
        self,
        message: str,
        *args: object,
        since: tuple[int, int],
        expected_removal: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message, *args)
        self.message = message.rstrip(".")
        self.since = since
        self.expected_removal = expected_removal if expected_removal is not None else (since[0] + 1, 0)

    def __str__(self) -> str:
        return (
            f"{self.message}. Deprecated in LangGraph V{self.since[0]}.{self.since[1]}"
            f" to be removed in V{self.expected_removal[0]}.{self.expected_removal[1]}."
        )


LangGraphDeprecationWarning = CairnDeprecationWarning
"""LangGraph's name for the base of its deprecation warnings."""


class LangGraphDeprecatedSinceV05(CairnDeprecationWarning):
    """Deprecated since LangGraph 0.5, to be removed in 2.0."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(0, 5), expected_removal=(2, 0))


class LangGraphDeprecatedSinceV10(CairnDeprecationWarning):
    """Deprecated since LangGraph 1.0, to be removed in 2.0."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(1, 0), expected_removal=(2, 0))


class LangGraphDeprecatedSinceV11(CairnDeprecationWarning):
    """Deprecated since LangGraph 1.1, to be removed in 3.0."""

    def __init__(self, message: str, *args: object) -> None:
        super().__init__(message, *args, since=(1, 1), expected_removal=(3, 0))
