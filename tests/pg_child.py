"""Child processes for tests/test_postgres_saver.py, started from the repository root as

    python -m tests.pg_child <command> [args...]

Commands:

    setup URL GO
        Print "ready", wait until the file GO exists, then make a PostgresSaver
        on URL (which sets up or migrates the schema), close it and print "ok".
        The parent starts several at once to race their setups.
    history URL THREAD
        Open a PostgresSaver on URL, build ``linear`` and print THREAD's head
        values and the step of each checkpoint of its history, as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time

from cairn.checkpoint.postgres import PostgresSaver
from tests.support import linear


def setup(url: str, go: str) -> None:
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("the go file never appeared")
        time.sleep(0.002)
    PostgresSaver(url, pool_size=1).close()
    print("ok", flush=True)


def history(url: str, thread_id: str) -> None:
    with PostgresSaver(url, pool_size=1) as saver:
        graph = linear(saver)
        config = {"configurable": {"thread_id": thread_id}}
        past = list(graph.get_state_history(config))
        print(
            json.dumps(
                {
                    "values": graph.get_state(config).values,
                    "steps": [s.metadata["step"] for s in past],
                    "values_by_step": [s.values for s in past],
                }
            )
        )


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "setup":
        setup(*args)
    elif command == "history":
        history(*args)
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
