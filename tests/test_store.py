"""The Store contract, on every store (issue 16): in memory, a real SQLite
file and the real PostgreSQL, each through the sync methods and through the
async ones (``aput``/``aget``/... on AsyncSqliteStore and AsyncPostgresStore).

It includes what LangGraph's stores got wrong: a prefix search for
("tenant", "acme") must not match ("tenant", "acme-corp"); ``_`` and ``%``
are literal; an item updated without index drops its old vector; reads never
create namespaces; expired items are never returned; puts from several
processes at once lose nothing.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from cairn.errors import CairnError, ConfigError, InvalidNamespaceError, StoreInputError
from cairn.store.base import GetOp, Item, ListNamespacesOp, PutOp, SearchItem, SearchOp
from cairn.store.memory import InMemoryStore
from tests.pg import fresh_schema
from tests.store_support import DIMS, FakeEmbeddings, cosine, embed, embed_text

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["memory", "sqlite", "postgres"]


class Async:
    """A store driven through its async methods, called like the sync ones."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        if name in ("get", "put", "delete", "search", "list_namespaces", "batch"):
            method = getattr(self.store, "a" + name)
            return lambda *args, **kwargs: asyncio.run(method(*args, **kwargs))
        return getattr(self.store, name)


Factory = Callable[..., Any]


@pytest.fixture(params=[(kind, mode) for kind in KINDS for mode in ("sync", "async")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """A factory of stores of one kind (sharing one database), driven sync or async."""
    kind, mode = request.param
    with ExitStack() as stack:
        url = stack.enter_context(fresh_schema()) if kind == "postgres" else None

        def factory(**options: Any) -> Any:
            if kind == "memory":
                store: Any = InMemoryStore(**options)
            elif kind == "sqlite":
                from cairn.store.sqlite import SqliteStore
                from cairn.store.sqlite.aio import AsyncSqliteStore

                cls = AsyncSqliteStore if mode == "async" else SqliteStore
                store = cls(tmp_path / "store.db", **options)
                stack.callback(store.close)
            else:
                from cairn.store.postgres import PostgresStore
                from cairn.store.postgres.aio import AsyncPostgresStore

                cls = AsyncPostgresStore if mode == "async" else PostgresStore
                store = cls(url, pool_size=2, **options)
                stack.callback(store.close)
            return Async(store) if mode == "async" else store

        factory.kind = kind  # type: ignore[attr-defined]
        yield factory


@pytest.fixture
def store(make: Factory) -> Any:
    return make()


def keys(found: list[Any]) -> list[str]:
    return [item.key for item in found]


# -- reading and writing --------------------------------------------------------------


def test_put_then_get_returns_the_item(store: Any) -> None:
    store.put(("users", "u1"), "prefs", {"food": "pizza", "n": [1, 2, {"deep": None}]})
    item = store.get(("users", "u1"), "prefs")
    assert isinstance(item, Item)
    assert item.namespace == ("users", "u1") and item.key == "prefs"
    assert item.value == {"food": "pizza", "n": [1, 2, {"deep": None}]}
    assert item.created_at.tzinfo is not None and item.created_at == item.updated_at
    assert store.get(("users", "u1"), "other") is None
    assert store.get(("users", "u2"), "prefs") is None


def test_an_update_keeps_created_at_and_moves_updated_at(store: Any) -> None:
    store.put(("docs",), "a", {"v": 1})
    first = store.get(("docs",), "a")
    time.sleep(0.01)
    store.put(("docs",), "a", {"v": 2})
    second = store.get(("docs",), "a")
    assert second.value == {"v": 2}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at


def test_delete_removes_the_item_and_its_namespace(store: Any) -> None:
    store.put(("docs", "x"), "a", {"v": 1})
    store.delete(("docs", "x"), "a")
    store.delete(("docs", "x"), "never-there")
    assert store.get(("docs", "x"), "a") is None
    assert store.list_namespaces() == []


def test_batch_runs_ops_in_order_with_one_result_each(store: Any) -> None:
    found = store.batch(
        [
            PutOp(("b",), "k", {"v": 1}),
            GetOp(("b",), "k"),
            SearchOp(("b",)),
            ListNamespacesOp(),
            PutOp(("b",), "k", None),
            GetOp(("b",), "k"),
        ]
    )
    assert found[0] is None and found[1].value == {"v": 1}
    assert keys(found[2]) == ["k"] and found[3] == [("b",)]
    assert found[4] is None and found[5] is None


# -- namespaces: exact labels, no wildcards -------------------------------------------


def test_a_prefix_matches_whole_labels_only(store: Any) -> None:
    store.put(("tenant", "acme"), "a", {"v": 1})
    store.put(("tenant", "acme", "team"), "b", {"v": 2})
    store.put(("tenant", "acme-corp"), "c", {"v": 3})
    store.put(("tenant", "acmeX"), "d", {"v": 4})
    assert sorted(keys(store.search(("tenant", "acme")))) == ["a", "b"]
    assert keys(store.search(("tenant", "acme-corp"))) == ["c"]
    assert sorted(keys(store.search(("tenant",)))) == ["a", "b", "c", "d"]
    assert store.list_namespaces(prefix=("tenant", "acme")) == [
        ("tenant", "acme"),
        ("tenant", "acme", "team"),
    ]


def test_underscore_and_percent_are_literal(store: Any) -> None:
    store.put(("users", "john_doe"), "note_1", {"who": "underscore"})
    store.put(("users", "john-doe"), "note-1", {"who": "dash"})
    store.put(("users", "johnXdoe"), "noteX1", {"who": "x"})
    store.put(("users", "100%"), "50%", {"who": "percent"})
    store.put(("users", "100"), "50", {"who": "digits"})
    assert keys(store.search(("users", "john_doe"))) == ["note_1"]
    assert store.get(("users", "john_doe"), "note-1") is None
    assert store.get(("users", "john-doe"), "note_1") is None
    assert store.get(("users", "john_doe"), "note_1").value == {"who": "underscore"}
    assert keys(store.search(("users", "100%"))) == ["50%"]
    assert store.get(("users", "100%"), "50") is None
    assert store.list_namespaces(prefix=("users", "john_doe")) == [("users", "john_doe")]


def test_reads_never_create_namespaces(store: Any) -> None:
    store.get(("ghost", "a"), "k")
    store.search(("ghost",))
    store.search(("ghost", "b"), filter={"x": 1})
    store.list_namespaces(prefix=("ghost",))
    assert store.list_namespaces() == []


def test_list_namespaces_filters_cuts_and_pages(store: Any) -> None:
    for ns in [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2"), ("b", "x", "1"), ("b",)]:
        store.put(ns, "k", {"v": 1})
    assert store.list_namespaces() == [
        ("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2"), ("b",), ("b", "x", "1")
    ]
    assert store.list_namespaces(prefix=("a",)) == [("a", "x", "1"), ("a", "y", "1"), ("a", "y", "2")]
    assert store.list_namespaces(suffix=("1",)) == [("a", "x", "1"), ("a", "y", "1"), ("b", "x", "1")]
    assert store.list_namespaces(prefix=("*", "x")) == [("a", "x", "1"), ("b", "x", "1")]
    assert store.list_namespaces(max_depth=2) == [("a", "x"), ("a", "y"), ("b",), ("b", "x")]
    assert store.list_namespaces(max_depth=1) == [("a",), ("b",)]
    assert store.list_namespaces(limit=2, offset=1) == [("a", "y", "1"), ("a", "y", "2")]
    assert store.list_namespaces(prefix=("a",), suffix=("2",)) == [("a", "y", "2")]


# -- search: filters, order, pages ----------------------------------------------------


def _docs(store: Any) -> None:
    store.put(("docs",), "a", {"status": "done", "n": 1, "tags": ["x"], "flag": True, "meta": {"lang": "en"}})
    store.put(("docs",), "b", {"status": "open", "n": 5, "tags": ["x", "y"], "flag": 1})
    store.put(("docs",), "c", {"status": "done", "n": 10.5, "flag": False, "meta": {"lang": "fr"}})
    store.put(("docs",), "d", {"status": "open", "n": "7", "label": "zeta"})


def test_search_filters_by_equality_and_operators(store: Any) -> None:
    _docs(store)

    def found(**conditions: Any) -> list[str]:
        return sorted(keys(store.search(("docs",), filter=conditions)))

    assert found(status="done") == ["a", "c"]
    assert found(status={"$eq": "open"}) == ["b", "d"]
    assert found(status={"$ne": "done"}) == ["b", "d"]
    assert found(label={"$ne": "zeta"}) == ["a", "b", "c"]  # a missing field differs
    assert found(n={"$gt": 1}) == ["b", "c"]  # "7" is a string: never compared to numbers
    assert found(n={"$gte": 1, "$lt": 10}) == ["a", "b"]
    assert found(n={"$lte": 5}) == ["a", "b"]
    assert found(n=5) == ["b"]
    assert found(n="7") == ["d"]
    assert found(label={"$gt": "a"}) == ["d"]
    assert found(flag=True) == ["a"]  # JSON: true is not 1
    assert found(flag=1) == ["b"]
    assert found(flag=False) == ["c"]
    assert found(tags=["x"]) == ["a"]
    assert found(meta={"lang": "fr"}) == ["c"]
    assert found(status="done", n={"$gt": 5}) == ["c"]
    assert found(missing=None) == []


def test_search_returns_the_newest_first_in_pages(store: Any) -> None:
    for n in range(7):
        store.put(("log",), f"k{n}", {"n": n})
        time.sleep(0.002)
    assert keys(store.search(("log",), limit=3)) == ["k6", "k5", "k4"]
    assert keys(store.search(("log",), limit=3, offset=3)) == ["k3", "k2", "k1"]
    assert keys(store.search(("log",), filter={"n": {"$lt": 4}}, limit=2, offset=1)) == ["k2", "k1"]
    assert keys(store.search(("log",), limit=3, offset=6)) == ["k0"]
    assert all(isinstance(item, SearchItem) and item.score is None for item in store.search(("log",)))


def test_a_query_without_an_index_is_a_plain_search(store: Any) -> None:
    store.put(("docs",), "a", {"text": "hello"})
    assert [(i.key, i.score) for i in store.search(("docs",), query="hello")] == [("a", None)]


# -- semantic search -------------------------------------------------------------------


def _indexed(make: Factory, fields: list[str] | None = None, embedder: Any = None) -> Any:
    index: dict[str, Any] = {"dims": DIMS, "embed": embedder or embed}
    if fields is not None:
        index["fields"] = fields
    return make(index=index)


def test_a_query_ranks_items_by_similarity(make: Factory) -> None:
    store = _indexed(make, ["text"])
    store.put(("mem",), "cats", {"text": "cats purr and sleep all day"})
    store.put(("mem",), "dogs", {"text": "dogs bark at the mail carrier"})
    store.put(("mem",), "code", {"text": "python code runs fast"})
    found = store.search(("mem",), query="why do cats purr")
    assert keys(found)[0] == "cats"
    assert found[0].score == pytest.approx(
        cosine(embed_text("why do cats purr"), embed_text("cats purr and sleep all day")), abs=1e-5
    )
    assert [i.score for i in found] == sorted((i.score for i in found), reverse=True)
    assert keys(store.search(("mem",), query="dogs bark", limit=1)) == ["dogs"]
    assert keys(store.search(("mem",), query="dogs bark", limit=1, offset=1)) != ["dogs"]
    assert keys(store.search(("mem",), query="cats", filter={"text": {"$ne": "x"}}, limit=1)) == ["cats"]


def test_an_update_without_index_drops_the_old_vector(make: Factory) -> None:
    store = _indexed(make, ["text"])
    store.put(("mem",), "a", {"text": "cats purr"})
    store.put(("mem",), "b", {"text": "dogs bark"})
    store.put(("mem",), "a", {"text": "cats purr"}, index=False)
    found = store.search(("mem",), query="cats purr")
    assert [(i.key, i.score is None) for i in found] == [("b", False), ("a", True)]


def test_index_paths_pick_the_texts_embedded(make: Factory) -> None:
    store = _indexed(make, ["notes[*].text", "title"])
    store.put(("mem",), "a", {"title": "groceries", "notes": [{"text": "buy milk"}, {"text": "cats purr"}]})
    store.put(("mem",), "b", {"title": "cats purr loudly", "notes": []})
    store.put(("mem",), "c", {"body": "cats purr"})  # no indexed field: no vector
    found = store.search(("mem",), query="cats purr")
    assert keys(found)[:2] == ["a", "b"] and found[0].score == pytest.approx(1.0, abs=1e-5)
    assert found[2].key == "c" and found[2].score is None
    store.put(("mem",), "c", {"body": "cats purr"}, index=["body"])
    assert store.search(("mem",), query="cats purr", filter={"body": "cats purr"})[0].score == pytest.approx(1.0, abs=1e-5)


def test_an_embeddings_object_is_used_for_documents_and_queries(make: Factory) -> None:
    embeddings = FakeEmbeddings()
    store = _indexed(make, embedder=embeddings)
    store.put(("mem",), "a", {"text": "cats"})
    assert keys(store.search(("mem",), query="cats")) == ["a"]
    assert embeddings.documents == 1 and embeddings.queries == 1


# -- TTL --------------------------------------------------------------------------------


def test_expired_items_are_never_returned(make: Factory) -> None:
    store = make()
    store.put(("t",), "short", {"v": 1}, ttl=0.3 / 60)
    store.put(("t", "gone"), "short", {"v": 1}, ttl=0.3 / 60)
    store.put(("t",), "long", {"v": 2}, ttl=10)
    store.put(("t",), "forever", {"v": 3})
    time.sleep(0.5)
    assert store.get(("t",), "short") is None
    assert sorted(keys(store.search(("t",)))) == ["forever", "long"]
    assert store.list_namespaces() == [("t",)]


def test_sweep_ttl_deletes_the_expired_items(make: Factory) -> None:
    store = make(index={"dims": DIMS, "embed": embed})
    store.put(("t",), "a", {"v": 1}, ttl=0.2 / 60)
    store.put(("t", "b"), "b", {"v": 1}, ttl=0.2 / 60)
    store.put(("t",), "kept", {"v": 2}, ttl=10)
    time.sleep(0.3)
    assert store.sweep_ttl() == 2
    assert store.sweep_ttl() == 0
    assert store.list_namespaces() == [("t",)]
    assert keys(store.search(("t",), query="v")) == ["kept"]


def test_reads_refresh_the_ttl(make: Factory) -> None:
    # margins of a second or more either way, for a loaded machine
    store = make(ttl={"default_ttl": 2.4 / 60, "refresh_on_read": True})
    store.put(("t",), "read", {"v": 1})
    store.put(("t",), "searched", {"v": 2})
    store.put(("t",), "left", {"v": 3})
    store.put(("t",), "peeked", {"v": 4})
    time.sleep(1.2)
    assert store.get(("t",), "read") is not None
    assert store.get(("t",), "peeked", refresh_ttl=False) is not None
    assert keys(store.search(("t",), filter={"v": 2})) == ["searched"]
    time.sleep(1.4)  # 2.6 s after the puts (past their expiry), 1.4 s after the reads
    assert store.get(("t",), "left") is None
    assert store.get(("t",), "peeked") is None
    assert sorted(keys(store.search(("t",), refresh_ttl=False))) == ["read", "searched"]


def test_a_put_over_an_expired_item_starts_it_anew(make: Factory) -> None:
    store = make()
    store.put(("t",), "k", {"v": 1}, ttl=0.2 / 60)
    first = store.get(("t",), "k")
    time.sleep(0.3)
    store.put(("t",), "k", {"v": 2})
    item = store.get(("t",), "k")
    assert item.value == {"v": 2} and item.created_at > first.created_at


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda s: s.put((), "k", {"v": 1}), InvalidNamespaceError, "empty"),
        (lambda s: s.put(("a.b",), "k", {"v": 1}), InvalidNamespaceError, "'.'"),
        (lambda s: s.put(("a", ""), "k", {"v": 1}), InvalidNamespaceError, "empty"),
        (lambda s: s.put(("a", 1), "k", {"v": 1}), InvalidNamespaceError, "int"),
        (lambda s: s.get(("a.b",), "k"), InvalidNamespaceError, "'.'"),
        (lambda s: s.search(("a.b",)), InvalidNamespaceError, "'.'"),
        (lambda s: s.put(("a",), "k", "text"), StoreInputError, "dicts"),
        (lambda s: s.put(("a",), "k", [1, 2]), StoreInputError, "dicts"),
        (lambda s: s.put(("a",), 7, {"v": 1}), StoreInputError, "strings"),
        (lambda s: s.put(("a",), "k", {"v": 1}, ttl=-1), StoreInputError, "positive"),
        (lambda s: s.search(("a",), filter={"n": {"$regex": "x"}}), StoreInputError, "$regex"),
        (lambda s: s.search(("a",), filter=["n"]), StoreInputError, "dict"),
        (lambda s: s.search(("a",), limit=-1), StoreInputError, "limit"),
        (lambda s: s.list_namespaces(max_depth=0), StoreInputError, "max_depth"),
        (lambda s: s.batch([("get", "a")]), StoreInputError, "GetOp"),
    ],
)
def test_bad_input_is_refused_naming_it(store: Any, call: Any, error: type, words: str) -> None:
    with pytest.raises(error) as raised:
        call(store)
    assert isinstance(raised.value, CairnError) and isinstance(raised.value, ValueError)
    assert words in str(raised.value)
    assert store.list_namespaces() == []


def test_a_bad_index_path_is_refused(make: Factory) -> None:
    with pytest.raises(StoreInputError, match="notes"):
        make(index={"dims": DIMS, "embed": embed, "fields": ["notes[*"]})
    with pytest.raises(StoreInputError, match="dims"):
        make(index={"embed": embed})


def test_values_that_are_not_json_are_refused_by_the_sql_stores(make: Factory) -> None:
    if make.kind == "memory":  # type: ignore[attr-defined]
        pytest.skip("InMemoryStore keeps values as given")
    store = make()
    with pytest.raises(StoreInputError, match="JSON"):
        store.put(("a",), "k", {"when": object()})
    assert store.get(("a",), "k") is None


# -- several processes -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_puts_from_several_processes_lose_nothing(kind: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        target = stack.enter_context(fresh_schema()) if kind == "postgres" else str(tmp_path / "s.db")
        from tests.store_support import open_store

        open_store(kind, target).close()  # the tables, made once before the writers start
        writers, count = 4, 40
        children = [
            subprocess.Popen(
                [sys.executable, str(ROOT / "tests" / "store_support.py"), kind, target, str(w), str(count)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for w in range(writers)
        ]
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
        store = open_store(kind, target)
        stack.callback(store.close)
        found = store.search(("shared",), limit=10_000)
        assert len([i for i in found if i.namespace == ("shared",)]) == writers * count
        last = store.search(("shared", "counter"), limit=100)
        assert sorted((i.key, i.value["n"]) for i in last) == [
            (f"last-{w}", count - 1) for w in range(writers)
        ]


# -- where the tables live ---------------------------------------------------------------


@pytest.mark.parametrize("first", ["saver", "store"])
def test_a_sqlite_store_shares_its_file_with_a_saver(first: str, tmp_path: Path) -> None:
    from cairn.checkpoint.sqlite import SqliteSaver
    from cairn.store.sqlite import SqliteStore
    from tests.support import linear

    path = tmp_path / "app.db"
    opened = [SqliteSaver(path), SqliteStore(path)] if first == "saver" else [SqliteStore(path), SqliteSaver(path)]
    saver, store = sorted(opened, key=lambda x: isinstance(x, SqliteStore))
    try:
        store.put(("users",), "u1", {"name": "Ada"})
        linear(saver).invoke({"log": []}, {"configurable": {"thread_id": "t"}})
        with SqliteStore(path) as again:
            assert again.get(("users",), "u1").value == {"name": "Ada"}
    finally:
        saver.close()
        store.close()


def test_a_sqlite_store_refuses_another_applications_file(tmp_path: Path) -> None:
    import sqlite3

    from cairn.errors import StorageError
    from cairn.store.sqlite import SqliteStore

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StorageError, match="invoices"):
        SqliteStore(path)


def test_async_stores_make_no_connection_until_used(tmp_path: Path) -> None:
    from cairn.errors import StorageError
    from cairn.store.postgres.aio import AsyncPostgresStore
    from cairn.store.sqlite.aio import AsyncSqliteStore

    lite = AsyncSqliteStore(tmp_path / "lazy.db")
    assert not (tmp_path / "lazy.db").exists()

    async def use() -> Any:
        async with lite:
            await lite.aput(("a",), "k", {"v": 1})
            return (await lite.aget(("a",), "k")).value

    assert asyncio.run(use()) == {"v": 1}
    nowhere = AsyncPostgresStore("postgresql://nobody@127.0.0.1:1/none", pool_size=1)

    async def refused() -> None:
        async with nowhere:
            pass  # pragma: no cover - the server cannot be reached

    with pytest.raises(StorageError, match="127.0.0.1"):
        asyncio.run(refused())


def test_setup_is_idempotent_and_awaitable_on_async_stores(tmp_path: Path) -> None:
    from cairn.store.sqlite import SqliteStore
    from cairn.store.sqlite.aio import AsyncSqliteStore

    with SqliteStore(tmp_path / "s.db") as store:
        store.setup()
        store.setup()
        store.put(("a",), "k", {"v": 1})

    async def main() -> Any:
        store = AsyncSqliteStore(tmp_path / "s.db")
        await store.setup()
        try:
            return (await store.aget(("a",), "k")).value
        finally:
            store.close()

    assert asyncio.run(main()) == {"v": 1}


@pytest.mark.parametrize("prepare", [False, True])
def test_a_postgres_store_prepares_its_statements_only_when_asked(prepare: bool) -> None:
    """Unasked, nothing is prepared (PgBouncer in transaction mode); with
    prepare=True the statements are prepared on the store's connection and
    every operation still answers right."""
    from cairn.store.postgres import PostgresStore

    with fresh_schema() as url, PostgresStore(url, pool_size=1, prepare=prepare, index={"dims": DIMS, "embed": embed}) as store:
        for n in range(8):  # the same statements again and again
            store.put(("p",), f"k{n % 3}", {"text": f"cats {n}"})
            assert store.get(("p",), f"k{n % 3}").value == {"text": f"cats {n}"}
        assert len(store.search(("p",), query="cats")) == 3
        store.put(("p",), "k0", {"text": "dogs"}, index=False)
        assert [i.key for i in store.search(("p",), query="cats") if i.score is None] == ["k0"]
        with store._connection() as conn:  # the connection the store used
            prepared = conn.execute(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%cairn_store_items%'"
            ).fetchone()[0]
    assert (prepared > 0) is prepare


def test_a_postgres_store_refuses_to_prepare_on_a_connection_that_never_prepares() -> None:
    import psycopg

    from cairn.store.postgres import PostgresStore

    with fresh_schema() as url, psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        with pytest.raises(ConfigError, match="prepare_threshold=None"):
            PostgresStore(conn, prepare=True)


# -- the event loop ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_async_calls_wait_for_a_lock_without_blocking_the_loop(kind: str, tmp_path: Path) -> None:
    """While another connection holds the store's table, ``aput`` waits for it
    and the event loop's other tasks run on (tests/test_async_io.py's ticker)."""
    from tests.test_async_io import Held, hold_sqlite, waits_without_blocking

    with ExitStack() as stack:
        if kind == "sqlite":
            from cairn.store.sqlite.aio import AsyncSqliteStore

            store: Any = AsyncSqliteStore(tmp_path / "s.db", busy_timeout=30.0)
            asyncio.run(store.asetup())  # the tables, before the lock is taken
            held = hold_sqlite(tmp_path / "s.db")
        else:
            import psycopg

            from cairn.store.postgres.aio import AsyncPostgresStore

            url = stack.enter_context(fresh_schema())
            store = AsyncPostgresStore(url, pool_size=2)
            asyncio.run(store.asetup())
            conn = psycopg.connect(url)
            conn.execute("LOCK TABLE cairn_store_items IN ACCESS EXCLUSIVE MODE")

            def release() -> None:
                conn.commit()
                conn.close()

            held = Held(release)
        stack.callback(store.close)

        async def main() -> Any:
            await waits_without_blocking(lambda: store.aput(("a",), "k", {"v": 1}), held)
            return (await store.aget(("a",), "k")).value

        assert asyncio.run(main()) == {"v": 1}


def test_puts_from_several_threads_lose_nothing(store: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def writer(w: int) -> None:
        for n in range(25):
            store.put(("threads", f"w{w % 2}"), f"{w}-{n}", {"w": w, "n": n})
            assert store.get(("threads", f"w{w % 2}"), f"{w}-{n}") is not None

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    assert len(store.search(("threads",), limit=1000)) == 100
    assert store.list_namespaces() == [("threads", "w0"), ("threads", "w1")]


def test_the_ttl_sweeper_deletes_expired_items_in_the_background(make: Factory) -> None:
    store = make(ttl={"sweep_interval_minutes": 1})
    store.put(("t",), "a", {"v": 1}, ttl=0.1 / 60)
    store.put(("t",), "b", {"v": 2})
    store.start_ttl_sweeper(sweep_interval_minutes=0.2 / 60)
    try:
        time.sleep(1.5)  # the item expires after 0.1 s; the sweeper runs every 0.2 s
        assert store.sweep_ttl() == 0  # nothing left: the sweeper deleted it
    finally:
        assert store.stop_ttl_sweeper(timeout=5)
    assert keys(store.search(("t",))) == ["b"]


def test_a_postgres_store_shares_its_schema_with_a_saver() -> None:
    from cairn.checkpoint.postgres import PostgresSaver
    from cairn.store.postgres import PostgresStore
    from tests.support import linear

    with fresh_schema() as url:
        with PostgresStore(url, pool_size=1) as store, PostgresSaver(url, pool_size=1) as saver:
            store.put(("users",), "u1", {"name": "Ada"})
            linear(saver).invoke({"log": []}, {"configurable": {"thread_id": "t"}})
        with PostgresSaver(url, pool_size=1) as saver, PostgresStore(url, pool_size=1) as store:
            assert store.get(("users",), "u1").value == {"name": "Ada"}
            assert saver.load("t", "") is not None
