"""Message text for the chat benchmarks, shared by cairn and LangGraph runs.

Imports neither library, so ``chat_storage.py`` (cairn only) and
``workloads.py`` (either library) generate exactly the same messages.
"""

from __future__ import annotations

import random
import string

SIZE = 500

_SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "se", "po", "vi", "da", "ge", "hu", "ab", "or", "in"]
_VOCABULARY = ["".join(random.Random(i).choices(_SYLLABLES, k=1 + i % 4)) for i in range(400)]
_ZIPF = [1 / rank for rank in range(1, len(_VOCABULARY) + 1)]


def text(rng: random.Random, kind: str, size: int = SIZE) -> str:
    """About ``size`` characters of "words" (language-like) or "random" letters."""
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < size:
        if kind == "words":
            words.append(rng.choices(_VOCABULARY, _ZIPF)[0])
        else:
            words.append("".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))))
    return " ".join(words)[:size]
