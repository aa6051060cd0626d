"""The language models the demo can run on: a deterministic stand-in, or a
local model served by Ollama.

The workflow only needs ``complete(prompt) -> text``, so both are small
classes behind one protocol. Ollama is reached with the standard library
alone, so the demo adds no dependency.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
import zlib
from typing import Any, Mapping, Protocol

OLLAMA_URL = "http://127.0.0.1:11434"
STAND_IN = "stand-in"

# The stand-in's fixed plan: the demo's story depends on its length (eight
# tasks make three execution rounds of three, three and two).
_PLAN = (
    "Gather requirements from the ML teams",
    "Design the model-serving API",
    "Set up the model registry",
    "Build the inference service",
    "Add request logging and metrics",
    "Write load tests",
    "Document the platform",
    "Run a pilot with one team",
)
_OUTCOMES = (
    "done, reviewed by the team",
    "done, two follow-ups filed",
    "done, merged to main",
    "done after one revision",
)

# The first words of each kind of prompt the workflow sends; the stand-in
# answers by kind, the way the joke example's stand-in does.
PLAN_PROMPT = "Plan the project"
TASK_PROMPT = "Carry out this task"
REPORT_PROMPT = "Write the final report"


class ModelError(Exception):
    """The model cannot be used: not reachable, unknown, or it failed."""


class Model(Protocol):
    """What the workflow asks of a language model."""

    name: str

    def complete(self, prompt: str) -> str:
        """The model's answer to ``prompt``."""
        ...


class StandInModel:
    """Answers like a small chat model would, from the prompt alone, and the
    same way every time, so the demo's output is reproducible."""

    name = STAND_IN

    def complete(self, prompt: str) -> str:
        """A fixed plan, a one-line task outcome, or a report built from the prompt."""
        if prompt.startswith(PLAN_PROMPT):
            lines = [f"{i}. {task}" for i, task in enumerate(_PLAN, 1)]
            return "\n".join(["Plan in eight tasks:", *lines])
        if prompt.startswith(TASK_PROMPT):
            task = prompt.rsplit("\n", 1)[-1].strip()
            # crc32, unlike hash(), is the same in every process.
            return _OUTCOMES[zlib.crc32(task.encode()) % len(_OUTCOMES)]
        if prompt.startswith(REPORT_PROMPT):
            return _stand_in_report(prompt)
        return "I can only plan, carry out tasks and write reports."


def _section(prompt: str, title: str) -> list[str]:
    """The lines under ``title:`` in a prompt, up to the next blank line."""
    lines = prompt.split("\n")
    if f"{title}:" not in lines:
        return []
    rest = lines[lines.index(f"{title}:") + 1 :]
    return [line for line in rest[: rest.index("")] if line] if "" in rest else rest


def _stand_in_report(prompt: str) -> str:
    name = prompt.split("\n", 1)[0].rsplit(":", 1)[-1].strip()
    planned = [line for line in _section(prompt, "Plan") if re.match(r"\d+\.", line)]
    done = [line.lstrip("- ") for line in _section(prompt, "Completed tasks")]
    rounds = next((line.split(":")[1].strip() for line in prompt.split("\n")
                   if line.startswith("Execution rounds:")), "?")
    verdict = (
        "ready to launch."
        if len(done) >= len(planned)
        else f"MVP ready; {len(planned) - len(done)} tasks deferred to phase 2."
    )
    first, last = (done[0], done[-1]) if done else ("nothing", "nothing")
    return (
        f"{name}: {len(done)} of {len(planned)} planned tasks done in {rounds} rounds.\n"
        f"First: {first}.\nLast: {last}.\nVerdict: {verdict}"
    )


class OllamaModel:
    """A model served by a local Ollama (``ollama serve``), over its HTTP API."""

    def __init__(self, model: str, url: str = OLLAMA_URL, timeout: float = 300.0) -> None:
        self.model = model
        self.name = f"ollama:{model}"
        self.url = url.rstrip("/")
        self.timeout = timeout

    def check(self) -> None:
        """Raise ModelError unless Ollama answers and has the model pulled."""
        try:
            tags = self._request("/api/tags", None, timeout=3.0)
        except ModelError:
            raise ModelError(
                f"no Ollama server is reachable at {self.url}; start one with "
                f"`ollama serve` (and `ollama pull {self.model}`), or drop --model to "
                "use the stand-in model"
            ) from None
        names = {str(m.get("name", "")) for m in tags.get("models", [])}
        if self.model not in names and f"{self.model}:latest" not in names:
            raise ModelError(
                f"Ollama at {self.url} has no model {self.model!r}; fetch it with "
                f"`ollama pull {self.model}`"
            )

    def complete(self, prompt: str) -> str:
        """The model's answer, sampled at temperature 0 so reruns agree as far
        as the model allows."""
        body = {
            "model": self.model,
            "prompt": prompt,
            "stream": False,
            "options": {"temperature": 0, "seed": 7},
        }
        reply = self._request("/api/generate", body, timeout=self.timeout)
        return str(reply.get("response", "")).strip()

    def _request(self, path: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                parsed = json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace").strip()
            raise ModelError(f"Ollama at {self.url}{path} answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ModelError(f"cannot talk to Ollama at {self.url}{path}: {exc}") from None
        return parsed if isinstance(parsed, dict) else {}


def ollama_url(environ: Mapping[str, str]) -> str:
    """Where Ollama listens: ``OLLAMA_HOST`` as Ollama itself reads it
    (``host``, ``host:port`` or a URL), else the default local address."""
    host = environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return OLLAMA_URL
    if "://" not in host:
        host = "http://" + host
    scheme, _, rest = host.partition("://")
    return f"{scheme}://{rest}" if ":" in rest.split("/", 1)[0] else f"{scheme}://{rest}:11434"


def model_from_option(value: str, environ: Mapping[str, str] = os.environ) -> Model:
    """The model ``--model`` names: ``stand-in`` or ``ollama:NAME``."""
    if value == STAND_IN:
        return StandInModel()
    kind, _, name = value.partition(":")
    if kind == "ollama" and name:
        return OllamaModel(name, ollama_url(environ))
    raise ModelError(
        f"unknown model {value!r}; use {STAND_IN!r} or 'ollama:NAME' (e.g. ollama:llama3.2)"
    )
