"""The web viewer in a real browser: Debian's Chromium, headless, driven by
Playwright for Python, against a real ``cairn serve`` (and ``cairn ui``)
subprocess on a SQLite file.

Each test checks what a person sees: the threads listed, the branches of
the checkpoint tree, the state, the diff's lines, an interrupt answered.
A failing test leaves a screenshot of the page (its path is in the
failure's output). Without /usr/bin/chromium the tests skip, and fail
under CI=true (.ci/run installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.server_support import SRC, ServerProcess, free_port, serving, wait_for

CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 15_000
"""How long an expectation waits for the page (polls every second)."""


def _require_browser() -> Any:
    reason = None
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed (pip install -e '.[dev]')"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}: .ci/run should have installed it")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _require_browser()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with serving(tmp_path_factory.mktemp("ui")) as running:
        yield running


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh page; a screenshot of it is saved when the test fails."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    failed_before = request.session.testsfailed
    yield opened
    if request.session.testsfailed > failed_before:
        shot = tmp_path / f"{request.node.name}.png"
        opened.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failing page: {shot}")
    context.close()


# -- setting threads up through the API ---------------------------------------------------


def _post(url: str, path: str, body: Any, status: int = 200) -> Any:
    response = httpx.post(url + path, json=body, timeout=30)
    assert response.status_code == status, response.text
    return response.json()


def new_thread(served: ServerProcess, **metadata: Any) -> str:
    return str(_post(served.url, "/threads", {"metadata": metadata})["thread_id"])


def run(served: ServerProcess, thread_id: str, graph: str = "agent", **body: Any) -> Any:
    """A run on the thread, waited for; the thread's values after it."""
    return _post(served.url, f"/threads/{thread_id}/runs/wait", {"assistant_id": graph, **body})


def interrupted_thread(served: ServerProcess, **metadata: Any) -> str:
    """A thread of the "agent" graph paused in its "ask" node (steps -1, 0, 1)."""
    thread_id = new_thread(served, **metadata)
    run(served, thread_id, input={"items": ["x"]})
    return thread_id


def history(url: str, thread_id: str) -> list[dict[str, Any]]:
    return _post(url, f"/threads/{thread_id}/history", {"limit": 100})  # type: ignore[no-any-return]


def at_step(snapshots: list[dict[str, Any]], step: int) -> dict[str, Any]:
    return next(s for s in snapshots if s["metadata"]["step"] == step)


def open_thread(page: Any, url: str, thread_id: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{url}/ui/#thread={thread_id}")
    expect(page.locator("#thread-title")).to_have_text(f"Thread {thread_id}")


def row(page: Any, checkpoint_id: str) -> Any:
    return page.locator(f'.checkpoint[data-checkpoint-id="{checkpoint_id}"]')


# -- the views ------------------------------------------------------------------------------


def test_threads_are_listed_with_status_and_found_by_metadata_or_id(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:8]
    alice = interrupted_thread(served, owner=f"alice-{tag}")
    bob = new_thread(served, owner=f"bob-{tag}")
    run(served, bob, graph="steps", input={"items": []})

    page.goto(f"{served.url}/ui/")
    listed = page.locator(f'.thread[data-thread-id="{alice}"]')
    expect(listed).to_contain_text("interrupted")
    expect(listed).to_contain_text(f'owner="alice-{tag}"')
    expect(page.locator(f'.thread[data-thread-id="{bob}"]')).to_contain_text("idle")

    page.fill("#query", f"owner=alice-{tag}")
    page.click("#search button")
    expect(page.locator(".thread")).to_have_count(1)
    expect(page.locator(".thread")).to_contain_text(alice)
    expect(page.locator("#threads-count")).to_have_text("1 thread(s)")

    page.fill("#query", bob[-12:])
    page.click("#search button")
    expect(page.locator(".thread")).to_have_count(1)
    expect(page.locator(".thread")).to_contain_text(bob)

    page.click(".thread")
    expect(page.locator("#thread-title")).to_have_text(f"Thread {bob}")


def test_a_fork_shows_as_a_second_branch_of_the_tree(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id = interrupted_thread(served)
    open_thread(page, served.url, thread_id)
    expect(page.locator("#branch-count")).to_have_text("3 checkpoint(s), 1 branch(es)")
    expect(page.locator(".branch")).to_have_count(0)

    step0 = at_step(history(served.url, thread_id), 0)
    _post(served.url, f"/threads/{thread_id}/state",
          {"checkpoint": {"checkpoint_id": step0["checkpoint_id"]}, "values": {"answer": "forked"}, "as_node": "first"})

    # The page polls: the fork appears without a reload.
    expect(page.locator("#branch-count")).to_have_text("4 checkpoint(s), 2 branch(es)")
    expect(page.locator(".branch")).to_have_count(2)
    expect(page.locator(".branch-label")).to_have_text(["branch 1 of 2", "branch 2 of 2"])
    expect(page.locator(".branch").nth(1)).to_contain_text("update")


def test_a_checkpoint_shows_its_state_and_what_each_node_wrote(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id = interrupted_thread(served)
    step1 = at_step(history(served.url, thread_id), 1)
    open_thread(page, served.url, thread_id)

    expect(row(page, step1["checkpoint_id"])).to_contain_text('first: {"items":["a"]}')
    row(page, step1["checkpoint_id"]).click()
    detail = page.locator("#detail")
    expect(detail).to_contain_text(f"Checkpoint {step1['checkpoint_id']}")
    expect(detail.locator(".node-write")).to_contain_text("first")
    assert json.loads(detail.locator(".state-values").inner_text()) == {"items": ["x", "a"]}
    expect(detail).to_contain_text("next: ask")
    expect(detail).to_contain_text('"question": "ok?"')

    step0 = at_step(history(served.url, thread_id), 0)
    row(page, step0["checkpoint_id"]).click()
    expect(detail).to_contain_text(f"Checkpoint {step0['checkpoint_id']}")
    expect(detail.locator(".node-write")).to_contain_text("__start__")
    expect(detail).not_to_contain_text("null")  # a part the checkpoint lacks is left out, not shown as null


def test_the_diff_of_two_checkpoints_lists_the_changed_keys(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id = interrupted_thread(served)
    run(served, thread_id, command={"resume": "yes"})
    snapshots = history(served.url, thread_id)
    first, last = at_step(snapshots, 0), snapshots[0]
    open_thread(page, served.url, thread_id)

    row(page, first["checkpoint_id"]).locator(".pick-a").click()
    row(page, last["checkpoint_id"]).locator(".pick-b").click()
    lines = page.locator("#diff .diff-line")
    expect(lines).to_have_text([
        '+ answer: "yes"',
        '~ items: ["x"] → ["x","a","b","c"]',
    ])
    expect(page.locator("#diff .diff-added")).to_have_count(1)
    expect(page.locator("#diff .diff-changed")).to_have_count(1)


# -- the actions ----------------------------------------------------------------------------


def test_an_interrupt_answered_from_the_page_lets_the_thread_go_on(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id = interrupted_thread(served)
    open_thread(page, served.url, thread_id)
    expect(page.locator("#thread-status")).to_have_text("interrupted")
    expect(page.locator("#interrupts .interrupt-value")).to_contain_text('"question": "ok?"')

    page.fill("#interrupts .resume-value", '"sure"')
    page.click("#interrupts button.resume")

    expect(page.locator("#thread-status")).to_have_text("idle")
    expect(page.locator("#tree")).to_contain_text('last: {"items":["c"]}')
    expect(page.locator("#interrupts")).to_be_empty()
    assert history(served.url, thread_id)[0]["values"] == {"items": ["x", "a", "b", "c"], "answer": "sure"}


def test_a_bad_answer_is_refused_on_the_page_and_nothing_runs(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id = interrupted_thread(served)
    open_thread(page, served.url, thread_id)
    page.fill("#interrupts .resume-value", "sure")  # not JSON
    page.click("#interrupts button.resume")
    expect(page.locator("#error")).to_contain_text("the answer is not JSON")
    assert len(history(served.url, thread_id)) == 3


def fork_on_page(page: Any, served: ServerProcess, as_node: str) -> tuple[str, dict[str, Any]]:
    """On an interrupted thread's page: step 0 chosen, "answer" set to
    "edited" in its values, Fork clicked. The thread and step 0."""
    thread_id = interrupted_thread(served)
    step0 = at_step(history(served.url, thread_id), 0)
    open_thread(page, served.url, thread_id)
    row(page, step0["checkpoint_id"]).click()
    page.fill("#fork-values", json.dumps({"items": ["x"], "answer": "edited"}))
    page.fill("#fork-as-node", as_node)
    page.click("#fork")
    return thread_id, step0


def test_a_fork_with_edited_state_made_on_the_page(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id, step0 = fork_on_page(page, served, as_node="first")

    expect(page.locator("#branch-count")).to_have_text("4 checkpoint(s), 2 branch(es)")
    forked = history(served.url, thread_id)[0]
    assert forked["values"] == {"items": ["x"], "answer": "edited"}
    assert forked["parent_checkpoint_id"] == step0["checkpoint_id"]
    # The new checkpoint is the one shown.
    expect(page.locator("#detail h3")).to_have_text(f"Checkpoint {forked['checkpoint_id']}")
    assert json.loads(page.locator("#detail .state-values").inner_text())["answer"] == "edited"


def test_a_fork_the_server_refuses_shows_its_reason_and_changes_nothing(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id, _ = fork_on_page(page, served, as_node="no_such_node")
    expect(page.locator("#error")).to_contain_text("no_such_node")
    expect(page.locator("#branch-count")).to_have_text("3 checkpoint(s), 1 branch(es)")
    assert len(history(served.url, thread_id)) == 3


def test_a_replay_from_a_checkpoint_runs_again_as_a_new_branch(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id = interrupted_thread(served)
    step0 = at_step(history(served.url, thread_id), 0)
    open_thread(page, served.url, thread_id)
    row(page, step0["checkpoint_id"]).click()
    page.click("#replay")

    # "first" runs again from step 0 (a new checkpoint beside the old step 1)
    # and "ask" pauses again on it: a second branch.
    expect(page.locator("#branch-count")).to_have_text("4 checkpoint(s), 2 branch(es)")
    second = page.locator(".branch").nth(1)
    expect(second).to_contain_text('first: {"items":["a"]}')
    expect(second.locator(".tag-interrupt")).to_have_count(1)
    expect(page.locator("#thread-status")).to_have_text("interrupted")


def test_a_running_threads_new_steps_appear_without_a_reload(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    thread_id = new_thread(served)
    run(served, thread_id, graph="steps", input={"items": []})
    open_thread(page, served.url, thread_id)
    expect(page.locator("#branch-count")).to_have_text("6 checkpoint(s), 1 branch(es)")
    page.evaluate("window.__same_page = true")

    _post(served.url, f"/threads/{thread_id}/runs",
          {"assistant_id": "steps", "input": {"items": [], "delay": 0.5}})
    expect(page.locator("#thread-status")).to_have_text("busy")
    expect(page.locator("#branch-count")).to_have_text("12 checkpoint(s), 1 branch(es)")
    expect(page.locator("#thread-status")).to_have_text("idle")
    assert page.evaluate("window.__same_page") is True


# -- cairn ui: read-only --------------------------------------------------------------------


def start_viewer(db: Path, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "cairn.cli", "ui", "--db", str(db), "--port", str(port), *extra]
    process = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(SRC)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"cairn ui exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            return httpx.get(f"{url}/ok", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=30, every=0.05)
    return process, url


def test_cairn_ui_shows_a_database_and_refuses_every_write(page: Any, served: ServerProcess) -> None:
    from playwright.sync_api import expect

    tag = uuid.uuid4().hex[:8]
    thread_id = new_thread(served)
    # cairn ui reads the checkpoints alone: a run's metadata is in them, the server's thread record is not.
    run(served, thread_id, input={"items": ["x"]}, metadata={"owner": f"carol-{tag}"})
    process, url = start_viewer(served.folder / "cairn.db")
    try:
        for method, path, body in [
            ("POST", f"/threads/{thread_id}/state", {"values": {"answer": "no"}}),
            ("POST", f"/threads/{thread_id}/runs", {"assistant_id": "agent", "command": {"resume": "no"}}),
            ("POST", "/threads", {}),
            ("DELETE", f"/threads/{thread_id}", None),
        ]:
            response = httpx.request(method, url + path, json=body, timeout=10)
            assert response.status_code == 405, (method, path, response.text)
            assert "cairn ui is read-only" in response.json()["detail"]
        assert len(history(served.url, thread_id)) == 3

        open_thread(page, url, thread_id)
        expect(page.locator("#mode")).to_have_text("read-only")
        expect(page.locator("#thread-status")).to_have_text("interrupted")
        expect(page.locator("#branch-count")).to_have_text("3 checkpoint(s), 1 branch(es)")
        expect(page.locator("#interrupts .interrupt-value")).to_contain_text('"question": "ok?"')
        expect(page.locator("#interrupts button")).to_have_count(0)
        step1 = at_step(history(served.url, thread_id), 1)
        row(page, step1["checkpoint_id"]).click()
        expect(page.locator("#detail .node-write")).to_contain_text("first")
        expect(page.locator("#fork")).to_have_count(0)
        expect(page.locator("#replay")).to_have_count(0)
        page.fill("#query", f"owner=carol-{tag}")
        page.click("#search button")
        expect(page.locator(".thread")).to_have_count(1)
    finally:
        process.terminate()
        process.wait(10)


def test_cairn_ui_folds_states_with_the_graph(page: Any, served: ServerProcess) -> None:
    """Without --graph a state is shown where a snapshot is stored; with it, everywhere."""
    from playwright.sync_api import expect

    thread_id = interrupted_thread(served)
    process, url = start_viewer(served.folder / "cairn.db", "--graph", str(served.folder / "server_app.py") + ":agent")
    try:
        open_thread(page, url, thread_id)
        head = history(served.url, thread_id)[0]
        row(page, head["checkpoint_id"]).click()
        assert json.loads(page.locator("#detail .state-values").inner_text()) == {"items": ["x", "a"]}
        expect(page.locator("#server")).to_contain_text("cairn ui")
    finally:
        process.terminate()
        process.wait(10)


def test_the_page_of_a_server_with_a_token_asks_for_it_once(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept("s3cret")

    page.on("dialog", answer)
    with serving(tmp_path, "--auth-token", "s3cret") as locked:
        thread_id = str(httpx.post(f"{locked.url}/threads", json={}, headers={"Authorization": "Bearer s3cret"}).json()["thread_id"])
        page.goto(f"{locked.url}/ui/")
        expect(page.locator(f'.thread[data-thread-id="{thread_id}"]')).to_have_count(1)
        page.reload()
        expect(page.locator(f'.thread[data-thread-id="{thread_id}"]')).to_have_count(1)
    assert len(asked) == 1 and "token" in asked[0]
