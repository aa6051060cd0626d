"""Reading LangGraph's ``langgraph.json``: the graphs to serve, the
environment and the paths their code imports from.

    {"dependencies": ["."], "graphs": {"agent": "./agent.py:graph"}, "env": ".env"}

Paths are relative to the config file. Only what the server uses is read;
an unknown key is left alone (the file also configures LangGraph's own
deployments), a key of the wrong type is an error naming it.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from cairn.errors import ConfigError

__all__ = ["ServerConfig", "apply_environment", "load_config"]


@dataclass(frozen=True)
class ServerConfig:
    """What ``langgraph.json`` says the server runs."""

    path: Path
    """The config file; relative paths in it are from its folder."""
    graphs: Mapping[str, str]
    """Graph id -> ``"./file.py:attribute"`` (or ``"package.module:attribute"``)."""
    env: Mapping[str, str] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()

    @property
    def root(self) -> Path:
        return self.path.parent


def load_config(path: str | os.PathLike[str]) -> ServerConfig:
    """The server config in the JSON file ``path``; ConfigError says what is wrong."""
    file = Path(path).resolve()
    try:
        raw = json.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--config {str(path)!r} does not exist; give the path of a langgraph.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read --config {str(path)!r}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--config {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"--config {str(path)!r} must hold a JSON object, got {type(raw).__name__}")
    graphs = raw.get("graphs")
    if not isinstance(graphs, dict) or not graphs:
        raise ConfigError(
            f"{file.name}: 'graphs' must be an object of graph id -> \"./file.py:variable\", "
            f"got {graphs!r}"
        )
    for name, target in graphs.items():
        if not isinstance(target, str) or ":" not in target:
            raise ConfigError(
                f"{file.name}: graph {name!r} must be given as \"./file.py:variable\", got {target!r}"
            )
    return ServerConfig(
        path=file,
        graphs=dict(graphs),
        env=_env(raw.get("env"), file),
        dependencies=_dependencies(raw.get("dependencies"), file),
    )


def _dependencies(value: Any, file: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{file.name}: 'dependencies' must be a list of strings, got {value!r}")
    return tuple(value)


def _env(value: Any, file: Path) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, str):
        env_file = (file.parent / value).resolve()
        try:
            return _dotenv(env_file.read_text())
        except OSError as exc:
            raise ConfigError(f"{file.name}: cannot read env file {value!r}: {exc}") from None
    raise ConfigError(f"{file.name}: 'env' must be an object or the path of a .env file, got {value!r}")


def _dotenv(text: str) -> dict[str, str]:
    """``KEY=value`` lines; blank lines, comments and ``export`` prefixes ignored."""
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key.strip()] = value
    return found


def apply_environment(config: ServerConfig) -> None:
    """Set the config's environment variables (those already set win, as
    LangGraph's) and put its local dependencies on ``sys.path``."""
    for key, value in config.env.items():
        os.environ.setdefault(key, value)
    for dependency in config.dependencies:
        if dependency.startswith(".") or dependency.startswith("/"):
            folder = str((config.root / dependency).resolve())
            if folder not in sys.path:
                sys.path.insert(0, folder)
