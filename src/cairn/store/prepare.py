"""The index of a store: which texts of a value are embedded, and the
embedding function, however the user gave it.

A field path is dotted (``"profile.bio"``); ``[*]`` takes every element of a
list (``"notes[*].text"``), ``[0]`` or ``[-1]`` one element, and ``"$"`` the
whole value. A string is embedded as it is, anything else as its JSON.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from typing import Any, Sequence, Union

from cairn.errors import StoreInputError

Step = Union[str, int, None]
"""A field name, a list position, or None for every element."""

_PART = re.compile(r"([^.\[\]]+)|\[(\*|-?\d+)\]|(\.)")


def parse_path(path: Any) -> tuple[Step, ...]:
    """The steps of a field path; raises on one that is not a path."""
    if not isinstance(path, str) or not path:
        raise StoreInputError(
            f"an index field is a path string like 'text', 'profile.bio' or 'notes[*].text'; "
            f"got {path!r}"
        )
    if path == "$":
        return ()
    steps: list[Step] = []
    at = 0
    dotted = True
    while at < len(path):
        found = _PART.match(path, at)
        if found is None or (found.group(1) and not dotted) or (found.group(3) and dotted):
            raise StoreInputError(
                f"the index field {path!r} is not a path: write fields joined by '.', with "
                f"[*] or [n] after a list field, like 'notes[*].text'"
            )
        name, position, dot = found.groups()
        if name:
            steps.append(name)
            dotted = False
        elif position:
            steps.append(None if position == "*" else int(position))
            dotted = False
        else:
            dotted = True
        at = found.end()
    if dotted:
        raise StoreInputError(f"the index field {path!r} ends with '.'; name the field after it")
    return tuple(steps)


def texts_at(value: Any, steps: tuple[Step, ...]) -> list[str]:
    """The texts at ``steps`` in ``value`` (none when the path is missing)."""
    found = [value]
    for step in steps:
        following: list[Any] = []
        for current in found:
            if isinstance(step, str):
                if isinstance(current, dict) and step in current:
                    following.append(current[step])
            elif isinstance(current, list):
                if step is None:
                    following.extend(current)
                elif -len(current) <= step < len(current):
                    following.append(current[step])
        found = following
    return [_text(part) for part in found if part is not None]


def _text(part: Any) -> str:
    if isinstance(part, str):
        return part
    return json.dumps(part, ensure_ascii=False, sort_keys=True, default=str)


class Embedder:
    """Vectors of texts from a LangChain ``Embeddings`` or a function of a list of texts."""

    def __init__(self, embed: Any) -> None:
        if isinstance(embed, str):
            raise StoreInputError(
                f"index embed={embed!r}: cairn takes the embeddings object itself, not a "
                "provider name; pass e.g. OpenAIEmbeddings(model=...) or a function "
                "list[str] -> list[list[float]]"
            )
        self._object = hasattr(embed, "embed_documents") and hasattr(embed, "embed_query")
        if not self._object and not callable(embed):
            raise StoreInputError(
                f"index embed={embed!r} is neither an Embeddings object (embed_documents, "
                "embed_query) nor a function list[str] -> list[list[float]]"
            )
        self._embed = embed
        self._async_only = not self._object and inspect.iscoroutinefunction(embed)

    def documents(self, texts: Sequence[str]) -> list[list[float]]:
        if self._object:
            return list(self._embed.embed_documents(list(texts)))
        if self._async_only:
            return asyncio.run(self._embed(list(texts)))  # type: ignore[no-any-return]
        return list(self._embed(list(texts)))

    def query(self, text: str) -> list[float]:
        if self._object:
            return list(self._embed.embed_query(text))
        return self.documents([text])[0]

    async def adocuments(self, texts: Sequence[str]) -> list[list[float]]:
        if self._object:
            if hasattr(self._embed, "aembed_documents"):
                return list(await self._embed.aembed_documents(list(texts)))
        elif self._async_only:
            return list(await self._embed(list(texts)))
        return await asyncio.get_running_loop().run_in_executor(None, self.documents, texts)

    async def aquery(self, text: str) -> list[float]:
        if self._object and hasattr(self._embed, "aembed_query"):
            return list(await self._embed.aembed_query(text))
        if self._object:
            return await asyncio.get_running_loop().run_in_executor(None, self.query, text)
        return (await self.adocuments([text]))[0]


class Index:
    """A store's ``IndexConfig``, checked: the dimensions, the embedder, the fields."""

    def __init__(self, config: Any) -> None:
        if not isinstance(config, dict) or "embed" not in config or "dims" not in config:
            raise StoreInputError(
                f"index={config!r}: give a dict with 'dims' (the vectors' length) and 'embed' "
                "(an Embeddings object or a function), and optionally 'fields'"
            )
        dims = config["dims"]
        if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
            raise StoreInputError(f"index dims={dims!r} must be the vectors' length, a positive int")
        self.dims = dims
        self.embedder = Embedder(config["embed"])
        self.fields = self.paths(config.get("fields") or ["$"])

    @staticmethod
    def paths(fields: Any) -> dict[str, tuple[Step, ...]]:
        if isinstance(fields, str) or not isinstance(fields, (list, tuple)):
            raise StoreInputError(
                f"index fields {fields!r} must be a list of paths, like ['text'] or ['notes[*].text']"
            )
        return {path: parse_path(path) for path in fields}

    def texts(self, value: dict[str, Any], index: Any) -> list[tuple[str, str]]:
        """(field, text) pairs to embed for a put of ``value`` with ``index``
        (None: the configured fields; False: none; a list: those paths)."""
        if index is False:
            return []
        fields = self.fields if index is None else self.paths(index)
        found = []
        for path, steps in fields.items():
            for n, text in enumerate(texts_at(value, steps)):
                found.append((f"{path}#{n}", text))
        return found

    def check(self, vectors: list[list[float]], count: int) -> None:
        if len(vectors) != count:
            raise StoreInputError(
                f"the index's embed returned {len(vectors)} vectors for {count} texts; it must "
                "return one vector per text"
            )
        for vector in vectors:
            if len(vector) != self.dims:
                raise StoreInputError(
                    f"the index's embed returned a vector of {len(vector)} numbers, and the "
                    f"store's index says dims={self.dims}; make them agree"
                )
