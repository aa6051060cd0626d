"""``cairn import --from-langgraph``: a LangGraph 1.2.22 SqliteSaver file and
PostgresSaver tables (made by tests/langgraph_fixtures/make.py with LangGraph
itself) read into cairn, whose get_state_history then shows what LangGraph's
did; what is not a LangGraph database, a damaged one, and values of classes
not allowed are refused with nothing written."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import msgpack
import pytest
from click.testing import CliRunner, Result

from cairn.checkpoint.fromlanggraph import LANGGRAPH_ID, Allowed, ClassNotAllowedError, loads_typed
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.cli import cli
from cairn.types import Command
from tests.pg import fresh_schema
from tests.support import saver_on

pytest.importorskip("langchain_core.messages", reason="the fixtures hold LangChain messages")

from tests.langgraph_fixtures import cairn_graph  # noqa: E402
from tests.langgraph_fixtures.models import history, nested_view  # noqa: E402

FIXTURES = Path(__file__).parent / "langgraph_fixtures"
LANGGRAPH_SQLITE = FIXTURES / "langgraph.sqlite"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
GRAPH = f"{Path(cairn_graph.__file__).resolve()}:graph"
MODELS = "tests.langgraph_fixtures.models"


def cairn(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def refused(result: Result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def with_langgraph_ids(graph: Any, thread_id: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``steps`` (from ``history``) with LangGraph's ids: each imported
    checkpoint keeps its own in its metadata."""
    config = {"configurable": {"thread_id": thread_id}}
    old = {s.config["configurable"]["checkpoint_id"]: s.metadata[LANGGRAPH_ID]
           for s in graph.get_state_history(config)}
    for step in steps:
        step["checkpoint_id"] = old[step["checkpoint_id"]]
        step["parent_id"] = old.get(step["parent_id"])
    return steps


def shown(db: str) -> dict[str, Any]:
    """What cairn's get_state_history (and get_state(subgraphs=True) for the
    thread paused in a subgraph) shows of each thread."""
    with saver_on(db) as saver:
        graph = cairn_graph.graph.compile(checkpointer=saver)
        found: dict[str, Any] = {}
        for thread_id in EXPECTED["sqlite"]:
            if thread_id not in ("nested", "fanout"):
                found[thread_id] = with_langgraph_ids(graph, thread_id, history(graph, thread_id))
        nested = cairn_graph.nested.compile(checkpointer=saver)
        found["nested"] = nested_view(nested, "nested")
        with_langgraph_ids(nested, "nested", found["nested"]["history"])
        fanout = cairn_graph.fanout.compile(checkpointer=saver)
        found["fanout"] = with_langgraph_ids(fanout, "fanout", history(fanout, "fanout"))
        return found


def load_postgres_rows(url: str) -> None:
    """The PostgresSaver's tables as make.py dumped them, in the URL's schema."""
    import psycopg

    tables = json.loads((FIXTURES / "postgres_rows.json").read_text())
    with psycopg.connect(url, autocommit=True) as conn:
        for table, dumped in tables.items():
            columns = ", ".join(f"{name} {kind}" for name, kind in dumped["columns"])
            conn.execute(f"CREATE TABLE {table} ({columns})")
            names = [name for name, _ in dumped["columns"]]
            kinds = [kind for _, kind in dumped["columns"]]
            marks = ", ".join("%s" for _ in names)
            for row in dumped["rows"]:
                values = [
                    base64.b64decode(v["base64"]) if isinstance(v, dict) and kind == "bytea"
                    else psycopg.types.json.Jsonb(v) if kind == "jsonb" else v
                    for v, kind in zip(row, kinds)
                ]
                conn.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", values)


def threads_in(db: Path) -> list[str]:
    with SqliteSaver.from_conn_string(str(db)) as saver:
        return [t.thread_id for t in saver.list_threads()]


# -- what LangGraph showed, shown by cairn ------------------------------------------


def test_sqlite_saver_file_imports_with_the_history_langgraph_showed(tmp_path: Path) -> None:
    db = tmp_path / "cairn.db"
    result = cairn("import", "--from-langgraph", str(LANGGRAPH_SQLITE), "--db", str(db), "--graph", GRAPH)
    assert result.exit_code == 0, result.output
    assert "imported 6 thread(s), " in result.output
    assert shown(str(db)) == EXPECTED["sqlite"]


def test_postgres_saver_tables_import_with_the_history_langgraph_showed(tmp_path: Path) -> None:
    with fresh_schema() as source, fresh_schema() as target:
        load_postgres_rows(source)
        for db in (str(tmp_path / "cairn.db"), target):
            result = cairn("import", "--from-langgraph", source, "--db", db, "--graph", GRAPH, "-o", "json")
            assert result.exit_code == 0, result.output
            assert len(json.loads(result.output)["threads"]) == 6
            assert shown(db) == EXPECTED["postgres"]


def test_imported_thread_paused_at_an_interrupt_resumes_in_cairn(tmp_path: Path) -> None:
    db = tmp_path / "cairn.db"
    assert cairn("import", "--from-langgraph", str(LANGGRAPH_SQLITE), "--db", str(db), "--graph", GRAPH).exit_code == 0
    with SqliteSaver.from_conn_string(str(db)) as saver:
        graph = cairn_graph.graph.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "paused"}}
        assert [i.value for i in graph.get_state(config).interrupts] == ["what next?"]
        out = graph.invoke(Command(resume="go on"), config)
        assert out["answer"] == "go on"
        head = graph.get_state(config)
        assert head.values["items"] == ["start", "first", "asked"]
        assert head.next == ()
        assert head.metadata["step"] == 2
        assert LANGGRAPH_ID not in head.metadata  # made by cairn, not imported


def test_allow_names_the_classes_without_a_graph(tmp_path: Path) -> None:
    db = tmp_path / "cairn.db"
    allow = [arg for name in ("Note", "Mood", "Profile") for arg in ("--allow", f"{MODELS}:{name}")]
    result = cairn("import", "--from-langgraph", str(LANGGRAPH_SQLITE), "--db", str(db), *allow)
    assert result.exit_code == 0, result.output
    assert shown(str(db)) == EXPECTED["sqlite"]


# -- refused, nothing written -------------------------------------------------------


def test_a_value_of_a_class_not_allowed_is_refused_naming_it(tmp_path: Path) -> None:
    db = tmp_path / "cairn.db"
    result = cairn("import", "--from-langgraph", str(LANGGRAPH_SQLITE), "--db", str(db))
    refused(result, f"{MODELS}.", "--allow", "--graph", "nothing was imported")
    assert not db.exists()


def test_a_file_that_is_not_a_langgraph_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    cairn_db = tmp_path / "cairn-own.db"
    with SqliteSaver.from_conn_string(str(cairn_db)):
        pass
    before = cairn_db.read_bytes()
    target = tmp_path / "target.db"
    refused(cairn("import", "--from-langgraph", str(text), "--db", str(target)),
            "not a LangGraph SqliteSaver database")
    refused(cairn("import", "--from-langgraph", str(cairn_db), "--db", str(target)),
            "not a LangGraph SqliteSaver database", "checkpoints")
    assert text.read_text() == "not a database\n" * 100
    assert cairn_db.read_bytes() == before
    assert not target.exists()


def test_a_postgres_database_without_langgraph_tables_is_refused(tmp_path: Path) -> None:
    with fresh_schema() as source:
        refused(cairn("import", "--from-langgraph", source, "--db", str(tmp_path / "t.db")),
                "no LangGraph PostgresSaver tables")
    assert not (tmp_path / "t.db").exists()


def test_a_damaged_langgraph_file_imports_nothing(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite"
    shutil.copy(LANGGRAPH_SQLITE, damaged)
    with sqlite3.connect(damaged) as conn:  # a middle checkpoint of one thread lost
        gone = conn.execute("SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'done' "
                            "ORDER BY checkpoint_id LIMIT 1 OFFSET 1").fetchone()[0]
        conn.execute("DELETE FROM checkpoints WHERE checkpoint_id = ?", (gone,))
    db = tmp_path / "cairn.db"
    with SqliteSaver.from_conn_string(str(db)):
        pass
    refused(cairn("import", "--from-langgraph", str(damaged), "--db", str(db), "--graph", GRAPH),
            "thread 'done'", gone, "damaged")
    assert threads_in(db) == []


def test_a_thread_the_target_holds_already_refuses_the_whole_import(tmp_path: Path) -> None:
    db = tmp_path / "cairn.db"
    with SqliteSaver.from_conn_string(str(db)) as saver:
        cairn_graph.graph.compile(checkpointer=saver).invoke(
            {"items": ["mine"]}, {"configurable": {"thread_id": "paused"}})
    refused(cairn("import", "--from-langgraph", str(LANGGRAPH_SQLITE), "--db", str(db), "--graph", GRAPH),
            "thread 'paused' exists already")
    assert threads_in(db) == ["paused"]


def test_a_dump_and_from_langgraph_together_is_a_usage_error(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text("")
    result = cairn("import", str(dump), "--from-langgraph", str(LANGGRAPH_SQLITE), "--db", str(tmp_path / "t.db"))
    assert result.exit_code == 2
    assert "not both" in result.output


# -- the decoder imports nothing the data names ----------------------------------------


def ext(code: int, *fields: Any) -> bytes:
    return msgpack.packb(msgpack.ExtType(code, msgpack.packb(list(fields))))


def test_a_class_named_by_the_data_is_never_imported() -> None:
    for code in (0, 1, 2, 5):
        with pytest.raises(ClassNotAllowedError, match="os.system"):
            loads_typed("msgpack", ext(code, "os", "system", "echo owned"), Allowed())
    with pytest.raises(ClassNotAllowedError, match="subprocess.Popen.run"):
        loads_typed("msgpack", ext(3, "subprocess", "Popen", "x", "run"), Allowed())


def test_pickled_values_are_refused() -> None:
    with pytest.raises(Exception, match="pickle"):
        loads_typed("pickle", b"\x80\x04N.", Allowed())


def test_standard_values_decode_as_langgraph_wrote_them() -> None:
    import datetime as dt
    import uuid

    allowed = Allowed()
    assert loads_typed("msgpack", ext(0, "uuid", "UUID", "12345678123456781234567812345678"), allowed) == \
        uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert loads_typed("msgpack", ext(3, "datetime", "datetime", "2026-01-02T03:04:05+00:00", "fromisoformat"),
                       allowed) == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert loads_typed("msgpack", ext(0, "builtins", "set", [1, 2]), allowed) == {1, 2}
    assert loads_typed("null", b"", allowed) is None


def test_times_paths_and_registered_enums_decode() -> None:
    import datetime as dt
    import pathlib
    import zoneinfo

    from cairn.checkpoint.registry import TypeRegistry
    from tests.langgraph_fixtures.models import Mood

    utc = msgpack.ExtType(1, msgpack.packb(["datetime", "timezone", [msgpack.ExtType(1, msgpack.packb(
        ["datetime", "timedelta", [0, 0, 0]]))]]))
    when = {"hour": 1, "minute": 2, "second": 3, "microsecond": 4, "tzinfo": utc, "fold": 0}
    packed = msgpack.packb(msgpack.ExtType(2, msgpack.packb(["datetime", "time", when])))
    assert loads_typed("msgpack", packed, Allowed()) == dt.time(1, 2, 3, 4, tzinfo=dt.timezone.utc)
    assert loads_typed("msgpack", ext(1, "pathlib", "PosixPath", ["/", "tmp", "x"]), Allowed()) == \
        pathlib.Path("/tmp/x")
    assert loads_typed("msgpack", ext(0, "zoneinfo", "ZoneInfo", "Europe/Paris"), Allowed()) == \
        zoneinfo.ZoneInfo("Europe/Paris")
    with pytest.raises(ClassNotAllowedError, match=f"{MODELS}.Mood"):
        loads_typed("msgpack", ext(0, MODELS, "Mood", "busy"), Allowed())
    allowed = Allowed(TypeRegistry([Mood]))
    assert loads_typed("msgpack", ext(0, MODELS, "Mood", "busy"), allowed) is Mood.BUSY
    assert allowed.used == {Mood}


def test_a_value_that_cannot_be_read_imports_nothing_and_names_where_it_is(tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.sqlite"
    shutil.copy(LANGGRAPH_SQLITE, damaged)
    with sqlite3.connect(damaged) as conn:
        where = conn.execute("SELECT checkpoint_id FROM checkpoints WHERE thread_id = 'forked' "
                             "ORDER BY checkpoint_id DESC LIMIT 1").fetchone()[0]
        conn.execute("UPDATE checkpoints SET checkpoint = X'c1c1' WHERE checkpoint_id = ?", (where,))
    db = tmp_path / "cairn.db"
    refused(cairn("import", "--from-langgraph", str(damaged), "--db", str(db), "--graph", GRAPH),
            "thread 'forked'", where, "nothing was imported")
    assert not db.exists()
