"""A reader without the application's code, as an operator's tool is:

    python -m tests.reader_child KIND TARGET THREAD UNKNOWN

opens the store (KIND "sqlite" or "postgres", as in tests/symmetry_app.py)
with a saver made without ``serde=`` but ``unknown=UNKNOWN`` ("error" or
"opaque"), reads every checkpoint of THREAD newest first, and prints one line
of JSON: ``{"checkpoints": [{"step", "source", "metadata", "writes",
"snapshot"}...], "imported": [...]}`` or ``{"error": ..., "message": ...,
"imported": [...]}``. ``imported`` lists the modules of the application
(``tests.symmetry_app``) that reading imported: there must be none.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from cairn.checkpoint.serde import OpaqueValue, default_serializer
from cairn.errors import CairnError


def plain(value: Any) -> Any:
    """``value`` as JSON, an OpaqueValue as ``{"opaque": name, "kind", "data"}``."""
    if isinstance(value, OpaqueValue):
        return {"opaque": value.type_name, "kind": value.kind, "data": plain(value.data)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def read(kind: str, target: str, thread_id: str, unknown: Any) -> dict[str, Any]:
    serde = default_serializer(unknown=unknown)
    if kind == "sqlite":
        from cairn.checkpoint.sqlite import SqliteSaver

        saver: Any = SqliteSaver(target, serde=serde)
    else:
        from cairn.checkpoint.postgres import PostgresSaver

        saver = PostgresSaver(target, serde=serde, pool_size=2)
    try:
        found = []
        for checkpoint in saver.list_checkpoints(thread_id, ""):
            found.append(
                {
                    "step": checkpoint.step,
                    "source": checkpoint.source,
                    "metadata": plain(dict(checkpoint.metadata)),
                    "writes": [[w.name, plain(w.update)] for w in checkpoint.writes],
                    "snapshot": plain(checkpoint.snapshot),
                }
            )
        return {"checkpoints": found}
    finally:
        saver.close()


if __name__ == "__main__":
    try:
        out = read(*sys.argv[1:4], sys.argv[4])
    except CairnError as exc:
        out = {"error": type(exc).__name__, "message": str(exc)}
    out["imported"] = sorted(m for m in sys.modules if m.startswith("tests.symmetry_app"))
    sys.stdout.write(json.dumps(out) + "\n")
