"""Helpers for the Store tests: deterministic embeddings, and a child process
that puts items into a store (``python -m tests.store_child``).

    python tests/store_support.py KIND TARGET WRITER COUNT

puts COUNT items ``w{WRITER}-{n}`` under ("shared",) and bumps nothing else;
KIND is "sqlite" (TARGET a file) or "postgres" (TARGET a URL).
"""

from __future__ import annotations

import hashlib
import math
import sys
from typing import Any, Sequence

DIMS = 32


def embed_text(text: str) -> list[float]:
    """A bag of words: each word adds 1 to a position chosen by its hash, so
    texts sharing words are similar and the vector of a text never changes."""
    vector = [0.0] * DIMS
    for word in text.lower().replace(",", " ").replace(".", " ").split():
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % DIMS] += 1.0
    return vector


def embed(texts: Sequence[str]) -> list[list[float]]:
    """The plain-function form of an index's ``embed``."""
    return [embed_text(text) for text in texts]


class FakeEmbeddings:
    """The LangChain ``Embeddings`` form (sync and async), counting its calls."""

    def __init__(self) -> None:
        self.documents = 0
        self.queries = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.documents += len(texts)
        return embed(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return embed_text(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def open_store(kind: str, target: str) -> Any:
    if kind == "sqlite":
        from cairn.store.sqlite import SqliteStore

        return SqliteStore(target, busy_timeout=30.0)
    from cairn.store.postgres import PostgresStore

    return PostgresStore(target, pool_size=2)


def main(argv: list[str]) -> None:
    kind, target, writer, count = argv
    store = open_store(kind, target)
    for n in range(int(count)):
        store.put(("shared",), f"w{writer}-{n}", {"writer": int(writer), "n": n})
        store.put(("shared", "counter"), f"last-{writer}", {"n": n})
    store.close()
    print("done")


if __name__ == "__main__":
    main(sys.argv[1:])
