// cairn's web viewer: threads, their checkpoint tree, states, diffs and
// interrupts, read (and, on `cairn serve`, acted on) through the server's
// public HTTP API only. Plain JavaScript, no build step.
"use strict";

const API = new URL("..", window.location.href).pathname.replace(/\/$/, "");
const POLL_MS = 1000;
const HISTORY_LIMIT = 500;
const HIDDEN_METADATA = new Set(["graph_id", "assistant_id", "run_id", "step", "source", "parents", "writes"]);

const view = {
  readOnly: false,
  threads: [],
  threadId: null,
  thread: null,
  history: [],
  signature: "",
  selected: null,
  diffA: null,
  diffB: null,
};

// -- the API --------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  const token = localStorage.getItem("cairn-token");
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(API + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    const given = window.prompt("This server needs its token (cairn serve --auth-token):");
    if (given) {
      localStorage.setItem("cairn-token", given);
      return api(method, path, body);
    }
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((data && data.detail) || `${method} ${path}: ${response.status}`);
  return data;
}

const threadPath = (id) => `/threads/${encodeURIComponent(id)}`;

// -- small DOM helpers ----------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

const $ = (id) => document.getElementById(id);
const json = (value) => JSON.stringify(value);
const pretty = (value) => JSON.stringify(value, null, 2);
const short = (id) => (id ? id.slice(-8) : "-");

function clip(text, width) {
  return text.length <= width ? text : text.slice(0, width - 1) + "…";
}

function showError(error) {
  const box = $("error");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

async function guarded(action) {
  try {
    await action();
    showError(null);
  } catch (error) {
    showError(error);
  }
}

async function quietly(action) {
  // A poll's failure is shown; its success leaves an action's error in place.
  try { await action(); } catch (error) { showError(error); }
}

// -- threads --------------------------------------------------------------------------

function parseQuery(text) {
  const metadata = {};
  const ids = [];
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const at = word.indexOf("=");
    if (at > 0) {
      const raw = word.slice(at + 1);
      let value = raw;
      try { value = JSON.parse(raw); } catch (_) { /* a plain string */ }
      metadata[word.slice(0, at)] = value;
    } else {
      ids.push(word.toLowerCase());
    }
  }
  return { metadata, ids };
}

async function loadThreads() {
  const { metadata, ids } = parseQuery($("query").value);
  const status = $("status-filter").value || undefined;
  const found = await api("POST", "/threads/search", { metadata, status, limit: 1000 });
  view.threads = found.filter((t) => ids.every((part) => t.thread_id.toLowerCase().includes(part)));
  renderThreads();
}

function metadataSummary(metadata) {
  return Object.entries(metadata || {})
    .filter(([key]) => !HIDDEN_METADATA.has(key))
    .map(([key, value]) => `${key}=${json(value)}`)
    .join(", ");
}

function renderThreads() {
  const list = $("threads");
  list.replaceChildren(
    ...view.threads.map((t) =>
      el("li", {
        class: "thread" + (t.thread_id === view.threadId ? " selected" : ""),
        dataset: { threadId: t.thread_id },
        onclick: () => openThread(t.thread_id),
      },
      el("div", {}, el("code", {}, t.thread_id), " ", statusBadge(t.status)),
      el("div", { class: "meta" }, metadataSummary(t.metadata) || (t.metadata || {}).graph_id || ""),
      ),
    ),
  );
  $("threads-count").textContent = `${view.threads.length} thread(s)`;
}

function statusBadge(status) {
  return el("span", { class: `status status-${status}` }, status);
}

// -- one thread -----------------------------------------------------------------------

async function openThread(threadId) {
  view.threadId = threadId;
  view.selected = view.diffA = view.diffB = null;
  view.signature = "";
  if (window.location.hash !== `#thread=${threadId}`) window.location.hash = `thread=${threadId}`;
  await guarded(refreshThread);
  renderThreads();
}

async function refreshThread() {
  // The thread and its head are read every poll; the history only when they changed.
  if (!view.threadId) return;
  const path = threadPath(view.threadId);
  const [thread, state] = await Promise.all([api("GET", path), api("GET", `${path}/state`)]);
  view.thread = thread;
  const signature = json([thread.status, state.checkpoint_id, interruptsOf(state).map((i) => i.id)]);
  if (signature === view.signature) return;
  view.history = await api("POST", `${path}/history`, { limit: HISTORY_LIMIT });
  view.signature = signature;
  renderThread();
}

function head() {
  return view.history[0] || null;
}

function byId(checkpointId) {
  return view.history.find((s) => s.checkpoint_id === checkpointId) || null;
}

function renderThread() {
  $("empty").hidden = true;
  $("thread").hidden = false;
  $("thread-title").textContent = `Thread ${view.thread.thread_id}`;
  const status = $("thread-status");
  status.textContent = view.thread.status;
  status.className = `status status-${view.thread.status}`;
  renderInterrupts();
  renderTree();
  renderDiff();
  renderDetail();
}

function interruptsOf(snapshot) {
  const found = [];
  for (const task of (snapshot && snapshot.tasks) || []) {
    for (const asked of task.interrupts || []) found.push({ task: task.name, ...asked });
  }
  return found;
}

function renderInterrupts() {
  const box = $("interrupts");
  const pending = interruptsOf(head());
  box.replaceChildren(
    ...(pending.length ? [el("h3", {}, "Pending interrupts")] : []),
    ...pending.map((asked, index) => {
      const answer = el("textarea", { class: "resume-value", "aria-label": "Answer (JSON)", placeholder: 'answer as JSON, e.g. "yes"' });
      return el("div", { class: "interrupt" },
        el("div", {}, `${asked.task} asks:`),
        el("pre", { class: "interrupt-value" }, pretty(asked.value)),
        view.readOnly ? null : el("div", {},
          answer,
          el("div", { class: "actions" },
            el("button", { class: "resume", onclick: () => guarded(() => resume(answer.value)) }, "Answer and resume"),
          ),
        ),
      );
    }),
  );
}

// -- the checkpoint tree --------------------------------------------------------------

function children() {
  const found = new Map();
  const oldestFirst = [...view.history].reverse();
  for (const snapshot of oldestFirst) {
    const parent = byId(snapshot.parent_checkpoint_id) ? snapshot.parent_checkpoint_id : null;
    if (!found.has(parent)) found.set(parent, []);
    found.get(parent).push(snapshot);
  }
  return found;
}

function renderTree() {
  const kids = children();
  const tree = $("tree");
  let branches = 0;
  const headId = head() && head().checkpoint_id;

  function walk(snapshot, container) {
    let current = snapshot;
    for (;;) {
      container.append(checkpointRow(current, current.checkpoint_id === headId));
      const next = kids.get(current.checkpoint_id) || [];
      if (next.length === 0) { branches += 1; return; }
      if (next.length === 1) { current = next[0]; continue; }
      next.forEach((child, index) => {
        const branch = el("div", { class: "branch" }, el("div", { class: "branch-label" }, `branch ${index + 1} of ${next.length}`));
        container.append(branch);
        walk(child, branch);
      });
      return;
    }
  }

  const roots = kids.get(null) || [];
  tree.replaceChildren();
  roots.forEach((root) => walk(root, tree));
  const cut = view.history.length >= HISTORY_LIMIT ? ` (the newest ${HISTORY_LIMIT})` : "";
  $("branch-count").textContent = `${view.history.length} checkpoint(s)${cut}, ${branches} branch(es)`;
}

function writesSummary(snapshot) {
  const writes = (snapshot.metadata || {}).writes;
  if (!writes) return "";
  return Object.entries(writes).map(([node, update]) => `${node}: ${json(update)}`).join("; ");
}

function checkpointRow(snapshot, isHead) {
  const id = snapshot.checkpoint_id;
  const metadata = snapshot.metadata || {};
  const pick = (which) => (event) => {
    event.stopPropagation();
    view[which] = view[which] === id ? null : id;
    renderTree();
    renderDiff();
  };
  return el("div", {
    class: "checkpoint" + (view.selected === id ? " selected" : ""),
    dataset: { checkpointId: id },
    onclick: () => { view.selected = id; renderTree(); renderDetail(); },
  },
  el("span", { class: "step" }, `step ${metadata.step}`),
  el("span", { class: "tag" }, metadata.source || ""),
  isHead ? el("span", { class: "tag tag-head" }, "head") : null,
  interruptsOf(snapshot).length ? el("span", { class: "tag tag-interrupt" }, "interrupt") : null,
  el("span", { class: "writes", title: writesSummary(snapshot) }, clip(writesSummary(snapshot) || (snapshot.next.length ? `next: ${snapshot.next.join(", ")}` : "end"), 120)),
  el("code", { class: "id", title: id }, short(id)),
  el("button", { class: "pick-a" + (view.diffA === id ? " on" : ""), title: "compare from", onclick: pick("diffA") }, "A"),
  el("button", { class: "pick-b" + (view.diffB === id ? " on" : ""), title: "compare to", onclick: pick("diffB") }, "B"),
  );
}

// -- the diff between two checkpoints -------------------------------------------------

function diffStates(a, b) {
  const lines = [];
  for (const key of Object.keys(b)) {
    if (!(key in a)) lines.push(["added", `+ ${key}: ${json(b[key])}`]);
  }
  for (const key of Object.keys(a)) {
    if (!(key in b)) lines.push(["removed", `- ${key}: ${json(a[key])}`]);
    else if (json(a[key]) !== json(b[key])) lines.push(["changed", `~ ${key}: ${json(a[key])} → ${json(b[key])}`]);
  }
  return lines;
}

function renderDiff() {
  const box = $("diff");
  const a = byId(view.diffA);
  const b = byId(view.diffB);
  box.hidden = !(a && b);
  if (!(a && b)) return;
  const title = el("h3", {}, `Diff: step ${a.metadata.step} (${short(a.checkpoint_id)}) → step ${b.metadata.step} (${short(b.checkpoint_id)})`);
  if (a.values_folded === false || b.values_folded === false) {
    box.replaceChildren(title, el("p", {}, "A state is not stored at one of these checkpoints; start cairn ui with --graph FILE.py:ATTR to fold it."));
    return;
  }
  const lines = diffStates(a.values || {}, b.values || {});
  box.replaceChildren(
    title,
    ...(lines.length ? lines.map(([kind, text]) => el("div", { class: `diff-line diff-${kind}` }, text)) : [el("p", {}, "no differences")]),
  );
}

// -- one checkpoint -------------------------------------------------------------------

function renderDetail() {
  const box = $("detail");
  const snapshot = byId(view.selected);
  box.hidden = !snapshot;
  if (!snapshot) return;
  const metadata = snapshot.metadata || {};
  const writes = metadata.writes || {};
  const facts = [
    ["step", metadata.step], ["source", metadata.source], ["created", snapshot.created_at],
    ["parent", snapshot.parent_checkpoint_id || "-"], ["next", snapshot.next.join(", ") || "-"],
  ];
  const others = Object.entries(metadata).filter(([key]) => !HIDDEN_METADATA.has(key));
  box.replaceChildren(el("div", {},
    el("h3", {}, `Checkpoint ${snapshot.checkpoint_id}`),
    el("div", { class: "facts" }, ...facts.map(([k, v]) => el("div", {}, el("b", {}, `${k}: `), String(v)))),
    ...others.map(([k, v]) => el("div", {}, el("b", {}, `${k}: `), json(v))),
    el("h4", {}, "Writes of this step"),
    Object.keys(writes).length
      ? el("div", { class: "node-writes" }, ...Object.entries(writes).map(([node, update]) =>
        el("div", { class: "node-write" }, el("b", {}, node), el("pre", {}, pretty(update)))))
      : el("p", {}, "none (an input or the start of a run)"),
    el("h4", {}, "State"),
    snapshot.values_folded === false
      ? el("p", { class: "values-unknown" }, "The state is not stored at this checkpoint; start cairn ui with --graph FILE.py:ATTR to fold it.")
      : el("pre", { class: "state-values" }, pretty(snapshot.values)),
    interruptsOf(snapshot).length
      ? el("div", {}, el("h4", {}, "Interrupts"), ...interruptsOf(snapshot).map((i) => el("pre", {}, `${i.task}: ${pretty(i.value)}`)))
      : null,
    view.readOnly ? null : actions(snapshot),
  ));
}

function actions(snapshot) {
  const values = el("textarea", { id: "fork-values", "aria-label": "Values to write (JSON)" });
  values.value = pretty(snapshot.values || {});
  const asNode = el("input", { id: "fork-as-node", placeholder: "as node (optional)", "aria-label": "As node" });
  return el("div", { class: "checkpoint-actions" },
    el("h4", {}, "Fork with edited state"),
    el("p", { class: "hint" }, "The keys you change are written at this checkpoint as a new branch, through the graph's reducers (as update_state does)."),
    values,
    el("div", { class: "actions" },
      asNode,
      el("button", { id: "fork", onclick: () => guarded(() => fork(snapshot, values.value, asNode.value)) }, "Fork"),
      el("button", { id: "replay", onclick: () => guarded(() => replay(snapshot)) }, "Replay from here"),
    ),
  );
}

// -- actions (cairn serve only) -------------------------------------------------------

function parseJson(text, what) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${what} is not JSON (${error.message}); quote a string: "yes"`);
  }
}

function assistantId() {
  const graph = (view.thread.metadata || {}).graph_id;
  if (!graph) throw new Error(`thread ${view.thread.thread_id} names no graph (no run was made on it by this server)`);
  return graph;
}

async function fork(snapshot, text, asNode) {
  const edited = parseJson(text, "the values");
  if (edited === null || typeof edited !== "object" || Array.isArray(edited)) throw new Error("the values must be a JSON object of state keys");
  const before = snapshot.values || {};
  const changed = Object.fromEntries(Object.entries(edited).filter(([k, v]) => json(before[k]) !== json(v)));
  if (!Object.keys(changed).length) throw new Error("no value was changed: edit a key of the state to fork");
  const body = { checkpoint: { checkpoint_id: snapshot.checkpoint_id }, values: changed };
  if (asNode.trim()) body.as_node = asNode.trim();
  const made = await api("POST", `${threadPath(view.threadId)}/state`, body);
  await refreshThread();
  view.selected = made.checkpoint_id;
  renderThread();
}

async function replay(snapshot) {
  await api("POST", `${threadPath(view.threadId)}/runs`, {
    assistant_id: assistantId(), input: null, checkpoint_id: snapshot.checkpoint_id,
  });
  await refreshThread();
}

async function resume(text) {
  const value = parseJson(text, "the answer");
  await api("POST", `${threadPath(view.threadId)}/runs`, { assistant_id: assistantId(), command: { resume: value } });
  await refreshThread();
}

// -- start ----------------------------------------------------------------------------

async function start() {
  const info = await api("GET", "/info").catch(() => ({}));
  view.readOnly = Boolean(info.flags && info.flags.read_only);
  $("mode").hidden = !view.readOnly;
  $("server").textContent = `${info.server || "cairn"} ${info.version || ""}`;
  document.body.classList.toggle("read-only", view.readOnly);
  $("search").addEventListener("submit", (event) => { event.preventDefault(); guarded(loadThreads); });
  $("status-filter").addEventListener("change", () => guarded(loadThreads));
  await guarded(loadThreads);
  const wanted = window.location.hash.match(/^#thread=(.+)$/);
  if (wanted) await openThread(decodeURIComponent(wanted[1]));
  window.addEventListener("hashchange", () => {
    const id = window.location.hash.match(/^#thread=(.+)$/);
    if (id && decodeURIComponent(id[1]) !== view.threadId) openThread(decodeURIComponent(id[1]));
  });
  // Live: a running thread's new checkpoints, and the threads' statuses.
  let ticks = 0;
  setInterval(() => {
    ticks += 1;
    quietly(refreshThread);
    if (ticks % 3 === 0) quietly(loadThreads);
  }, POLL_MS);
}

start();
