"""Encryption at rest, what is never stored, and how values that cannot be
stored fail: on real SQLite files (and every saver where a saver is given)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Iterator, TypedDict

import pytest

from cairn.checkpoint.serde import EncryptedSerializer, Serializer
from cairn.checkpoint.sqlite import SqliteSaver
from cairn.errors import ConfigError, SerializationError, StorageError
from cairn.graph import START, StateGraph, Transient
from tests.support import thread

SECRET = "hunter2-the-secret"


class State(TypedDict):
    note: str


def graph(saver: Any) -> Any:
    def shout(state: State) -> dict[str, Any]:
        return {"note": state["note"] + "!"}

    return StateGraph(State).add_node("shout", shout).add_edge(START, "shout").compile(checkpointer=saver)


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


@pytest.fixture
def key() -> str:
    return EncryptedSerializer.generate_key()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "secret.db"


def write_secret(path: Path, serde: Any) -> None:
    with SqliteSaver(path, serde=serde) as saver:
        graph(saver).invoke({"note": SECRET}, thread("t"))


# --- encryption ------------------------------------------------------------------------


def test_an_encrypted_store_holds_no_plaintext_and_reads_back(path: Path, key: str) -> None:
    write_secret(path, EncryptedSerializer.from_key(key, compression=None))
    assert SECRET.encode() not in file_bytes(path)
    with SqliteSaver(path, serde=EncryptedSerializer.from_key(key)) as saver:
        history = list(graph(saver).get_state_history(thread("t")))
    assert [s.values for s in history] == [{"note": SECRET + "!"}, {"note": SECRET}, {}]
    # A plain serializer stores the same text where anyone can read it.
    plain = path.with_name("plain.db")
    write_secret(plain, Serializer(compression=None))
    assert SECRET.encode() in file_bytes(plain)


def test_keys_are_accepted_as_bytes_hex_or_base64(path: Path) -> None:
    import base64

    raw = os.urandom(32)
    spellings = (raw, raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode())
    write_secret(path, EncryptedSerializer.from_key(spellings[0]))
    for given in spellings:  # every spelling is the same key: each one reads the rows
        with SqliteSaver(path, serde=EncryptedSerializer.from_key(given)) as saver:
            assert graph(saver).get_state(thread("t")).values == {"note": SECRET + "!"}
    with pytest.raises(ConfigError, match="32 bytes"):
        EncryptedSerializer.from_key("too-short")
    with pytest.raises(ConfigError, match="16 bytes"):
        EncryptedSerializer.from_key(os.urandom(16))


def test_a_saver_without_the_key_reads_nothing(path: Path, key: str) -> None:
    write_secret(path, EncryptedSerializer.from_key(key))
    with SqliteSaver(path) as saver, pytest.raises(StorageError, match="encrypted and the saver has no key"):
        graph(saver).get_state(thread("t"))


def test_the_wrong_key_reads_nothing_and_says_which_key_id(path: Path, key: str) -> None:
    write_secret(path, EncryptedSerializer.from_key(key))
    other = EncryptedSerializer.from_key(EncryptedSerializer.generate_key())
    with SqliteSaver(path, serde=other) as saver, pytest.raises(StorageError, match="another key"):
        graph(saver).get_state(thread("t"))


def test_rotation_reads_old_rows_and_writes_with_the_new_key(path: Path, key: str) -> None:
    write_secret(path, EncryptedSerializer.from_key(key))
    new = EncryptedSerializer.generate_key()
    with SqliteSaver(path, serde=EncryptedSerializer.from_key(new, old_keys=[key])) as saver:
        workflow = graph(saver)
        assert workflow.get_state(thread("t")).values == {"note": SECRET + "!"}
        workflow.invoke({"note": "later"}, thread("t"))
    # Only the new key is needed for what was written after the rotation.
    with SqliteSaver(path, serde=EncryptedSerializer.from_key(new)) as saver:
        head = saver.load("t", "")
        assert head is not None and head.step > 1
        with pytest.raises(StorageError, match="another key"):
            list(graph(saver).get_state_history(thread("t")))


def test_an_unencrypted_row_is_refused_by_a_saver_with_a_key(path: Path, key: str) -> None:
    write_secret(path, Serializer())
    with SqliteSaver(path, serde=EncryptedSerializer.from_key(key)) as saver:
        with pytest.raises(StorageError, match="not encrypted"):
            graph(saver).get_state(thread("t"))


def test_a_tampered_row_loads_nothing(path: Path, key: str) -> None:
    write_secret(path, EncryptedSerializer.from_key(key))
    conn = sqlite3.connect(path)
    (blob,) = conn.execute("SELECT writes FROM cairn_checkpoints WHERE step = 1").fetchone()
    flipped = bytearray(blob)
    flipped[-3] ^= 0x01
    conn.execute("UPDATE cairn_checkpoints SET writes = ? WHERE step = 1", (bytes(flipped),))
    conn.commit()
    conn.close()
    with SqliteSaver(path, serde=EncryptedSerializer.from_key(key)) as saver:
        with pytest.raises(StorageError, match="integrity check"):
            graph(saver).get_state(thread("t"))


def test_rows_swapped_between_threads_do_not_open(path: Path, key: str) -> None:
    serde = EncryptedSerializer.from_key(key)
    with SqliteSaver(path, serde=serde) as saver:
        graph(saver).invoke({"note": "mine"}, thread("alice"))
        graph(saver).invoke({"note": "yours"}, thread("bob"))
    conn = sqlite3.connect(path)
    (bob_writes,) = conn.execute(
        "SELECT writes FROM cairn_checkpoints WHERE thread_id = 'bob' AND step = 1"
    ).fetchone()
    conn.execute(
        "UPDATE cairn_checkpoints SET writes = ? WHERE thread_id = 'alice' AND step = 1", (bob_writes,)
    )
    conn.commit()
    conn.close()
    with SqliteSaver(path, serde=serde) as saver:
        with pytest.raises(StorageError, match="moved from another thread"):
            graph(saver).get_state(thread("alice"))


def test_an_encrypted_thread_can_be_copied(saver_with_key: Any) -> None:
    workflow = graph(saver_with_key)
    workflow.invoke({"note": SECRET}, thread("t"))
    saver_with_key.copy_thread("t", "copy")
    assert workflow.get_state(thread("copy")).values == {"note": SECRET + "!"}


def test_the_runs_of_an_encrypted_thread_can_be_deleted(saver_with_key: Any) -> None:
    workflow = graph(saver_with_key)
    workflow.invoke({"note": SECRET}, {**thread("t"), "run_id": "first"})
    before = list(workflow.get_state_history(thread("t")))
    workflow.invoke({"note": "later"}, {**thread("t"), "run_id": "second"})
    saver_with_key.delete_for_runs(["second"])  # found by their sealed metadata
    assert list(workflow.get_state_history(thread("t"))) == before
    assert workflow.get_state(thread("t")).values == {"note": SECRET + "!"}


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def saver_with_key(request: pytest.FixtureRequest, tmp_path: Path, key: str) -> Iterator[Any]:
    serde = EncryptedSerializer.from_key(key)
    if request.param == "memory":
        from cairn.checkpoint.memory import InMemorySaver

        yield InMemorySaver(serde=serde)
    elif request.param == "sqlite":
        with SqliteSaver(tmp_path / "k.db", serde=serde) as saver:
            yield saver
    else:
        from tests.pg import fresh_schema

        with fresh_schema() as url:
            from cairn.checkpoint.postgres import PostgresSaver

            with PostgresSaver(url, serde=serde) as saver:
                yield saver


def test_cairn_encryption_key_makes_every_saver_encrypt(path: Path, key: str) -> None:
    program = (
        "import sys\n"
        "from tests.test_encryption import graph, thread\n"
        "from cairn.checkpoint.sqlite import SqliteSaver\n"
        "from cairn.checkpoint.serde import Serializer\n"
        "saver = SqliteSaver(sys.argv[1])\n"
        "print(type(saver.serde).__name__)\n"
        "graph(saver).invoke({'note': sys.argv[2]}, thread('t'))\n"
    )
    env = {**os.environ, "CAIRN_ENCRYPTION_KEY": key, "PYTHONPATH": str(Path(__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", program, str(path), SECRET], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "EncryptedSerializer"
    with SqliteSaver(path, serde=EncryptedSerializer.from_key(key)) as saver:
        assert graph(saver).get_state(thread("t")).values == {"note": SECRET + "!"}


def test_a_key_list_in_the_environment_rotates(monkeypatch: pytest.MonkeyPatch, path: Path, key: str) -> None:
    write_secret(path, EncryptedSerializer.from_key(key))
    monkeypatch.setenv("CAIRN_ENCRYPTION_KEY", f"{EncryptedSerializer.generate_key()},{key}")
    with SqliteSaver(path) as saver:
        assert graph(saver).get_state(thread("t")).values == {"note": SECRET + "!"}


# --- transient keys ----------------------------------------------------------------------


class Login(TypedDict):
    user: str
    password: Annotated[str, Transient]
    greeting: str


def login(saver: Any) -> Any:
    def greet(state: Login) -> dict[str, Any]:
        assert state["password"] == SECRET  # the node sees it during the run
        return {"greeting": f"hello {state['user']}", "password": SECRET + "-rotated"}

    def done(state: Login) -> dict[str, Any]:
        return {"greeting": state["greeting"] + "!"}

    builder = StateGraph(Login).add_node("greet", greet).add_node("done", done)
    return builder.add_edge(START, "greet").add_edge("greet", "done").compile(checkpointer=saver)


def test_a_transient_key_is_used_in_the_run_and_never_stored(path: Path) -> None:
    with SqliteSaver(path, serde=Serializer(compression=None)) as saver:
        workflow = login(saver)
        result = workflow.invoke({"user": "ada", "password": SECRET}, thread("t"))
        assert result == {"user": "ada", "password": SECRET + "-rotated", "greeting": "hello ada!"}
        assert workflow.get_state(thread("t")).values == {"user": "ada", "greeting": "hello ada!"}
        for snapshot in workflow.get_state_history(thread("t")):
            assert "password" not in snapshot.values
            assert "password" not in str(snapshot.metadata)
    assert SECRET.encode() not in file_bytes(path)


def test_a_transient_key_is_not_kept_in_pending_writes_of_a_failed_step(path: Path) -> None:
    class Parallel(TypedDict):
        token: Annotated[str, Transient]
        out: Annotated[list, lambda a, b: a + b]

    def ok(state: Parallel) -> dict[str, Any]:
        return {"token": SECRET, "out": ["ok"]}

    def boom(state: Parallel) -> dict[str, Any]:
        raise RuntimeError("boom")

    builder = StateGraph(Parallel).add_node("ok", ok).add_node("boom", boom)
    builder.add_edge(START, "ok").add_edge(START, "boom")
    with SqliteSaver(path, serde=Serializer(compression=None)) as saver:
        with pytest.raises(RuntimeError):
            builder.compile(checkpointer=saver).invoke({"out": []}, thread("t"))
    assert SECRET.encode() not in file_bytes(path)


# --- values that cannot be stored -------------------------------------------------------


class Anything(TypedDict):
    payload: Any
    other: str


def test_an_unstorable_value_fails_when_stored_naming_the_key_and_type(saver: Any) -> None:
    class Opaque:
        pass

    def make(state: Anything) -> dict[str, Any]:
        return {"payload": Opaque(), "other": "fine"}

    builder = StateGraph(Anything).add_node("make", make).add_edge(START, "make")
    workflow = builder.compile(checkpointer=saver)
    with pytest.raises(SerializationError, match=r"state key 'payload' \(written by 'make'\).*Opaque"):
        workflow.invoke({"other": "x"}, thread("t"))
    # What was stored before the failing step is intact.
    assert workflow.get_state(thread("t")).values == {"other": "x"}


def test_pickle_is_used_only_when_asked_for() -> None:
    from fractions import Fraction

    with pytest.raises(SerializationError, match="Fraction"):
        Serializer().dumps(Fraction(1, 3))
    pickling = Serializer(pickle_fallback=True)
    blob = pickling.dumps({"x": Fraction(1, 3)})
    assert pickling.loads(blob) == {"x": Fraction(1, 3)}
    with pytest.raises(SerializationError, match="pickle"):
        Serializer().loads(blob)


def test_zstd_compression_is_recorded_per_value_and_read_by_any_serializer(path: Path) -> None:
    pytest.importorskip("zstandard")
    with SqliteSaver(path, serde=Serializer(compression="zstd")) as saver:
        graph(saver).invoke({"note": "words " * 400}, thread("t"))
    conn = sqlite3.connect(path)
    kinds = {row[0][0] for row in conn.execute("SELECT writes FROM cairn_checkpoints")}
    conn.close()
    assert 3 in kinds  # the zstd format byte
    with SqliteSaver(path) as saver:  # a zlib-writing saver still reads it
        assert graph(saver).get_state(thread("t")).values["note"].startswith("words words")


def test_an_unknown_compression_is_refused() -> None:
    with pytest.raises(ConfigError, match="'brotli'"):
        Serializer(compression="brotli")


def test_a_blob_of_an_unknown_format_version_is_refused_clearly(path: Path) -> None:
    write_secret(path, Serializer())
    conn = sqlite3.connect(path)
    conn.execute("UPDATE cairn_checkpoints SET plan = X'7F00' WHERE step = 1")
    conn.commit()
    conn.close()
    with SqliteSaver(path) as saver, pytest.raises(StorageError, match="newer cairn"):
        graph(saver).get_state(thread("t"))
