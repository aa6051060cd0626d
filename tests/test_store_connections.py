"""PostgresStore keeps one connection of its own pool for back-to-back calls
(checkpoint/postgres KeptConnection): calls from several threads at once
still each get a connection."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest

from cairn.store.postgres import PostgresStore
from tests.pg import fresh_schema


@pytest.fixture
def url() -> Iterator[str]:
    with fresh_schema() as fresh:
        yield fresh


def test_threads_putting_at_once_on_a_small_pool_lose_nothing(url: str) -> None:
    with PostgresStore(url, pool_size=2) as store:

        def work(worker: int) -> None:
            for n in range(40):
                store.put(("w", str(worker)), f"k{n}", {"n": n})

        threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for worker in range(6):
            found = store.search(("w", str(worker)), limit=100)
            assert sorted(item.value["n"] for item in found) == list(range(40))
