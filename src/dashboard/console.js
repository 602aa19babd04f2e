// tickwheel operator's console (issue 15): plain browser JS, no build step, loaded after
// dashboard.js on the same page (it uses that file's api(), cell(), relative(), when() and
// setStatus()). Views live in the URL hash, so each can be linked and reloaded:
//   #/                         the overview (dashboard.js)
//   #/tasks/STATE?name=PREFIX  a list of one state, time-ordered, paged, with bulk actions
//   #/task/ID                  one task: everything stored about it, and its actions
"use strict";

const CONSOLE_STATES = ["scheduled", "running", "failed", "succeeded", "dead", "cancelled", "expired"];
const PAGE_SIZE = 50;
/** Args longer than this are cut on the task page until "show all". */
const ARGS_PREVIEW_CHARS = 2000;
/** Task page refresh while the task can still change; bulk progress polling. */
const TASK_REFRESH_MS = 1000;
const BULK_POLL_MS = 300;
/** Bulk actions each state offers (the API's rules: console/bulk-jobs.ts). */
const BULK_BY_STATE = {
  scheduled: [["cancel", "Cancel all"], ["run-now", "Run all now"]],
  failed: [["cancel", "Cancel all"], ["run-now", "Run all now"]],
  dead: [["retry", "Retry all"]],
};
const ACTION_WORDS = { cancel: ["Cancel", "cancelled"], "run-now": ["Run now", "made due now"], retry: ["Retry", "requeued"] };

const consoleView = $("#console-view");
let viewTimer = null;
let viewGeneration = 0;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "className") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  return node;
}

function taskLink(id) {
  return el("a", { className: "task-link", href: `#/task/${encodeURIComponent(id)}` }, id);
}

/** Absolute in the viewer's zone and in UTC, and relative to now. */
function fullTime(ms) {
  if (ms === null || ms === undefined) return "–";
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
  const local = new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  return `${local} (${zone}) · ${when(ms)} · ${relative(ms)}`;
}

function clearView() {
  viewGeneration++;
  if (viewTimer) clearTimeout(viewTimer);
  viewTimer = null;
}

// ---------------------------------------------------------------- routing

function route() {
  clearView();
  const hash = location.hash.replace(/^#/, "");
  const [path, query = ""] = hash.split("?");
  const parts = (path || "/").split("/").filter(Boolean);
  const open = parts.length > 0;
  document.body.classList.toggle("console-open", open);
  consoleView.hidden = !open;
  for (const link of document.querySelectorAll("#console-nav a")) {
    link.classList.toggle("active", link.dataset.nav === (open ? "tasks" : "overview"));
  }
  if (!open) return;
  const params = new URLSearchParams(query);
  if (parts[0] === "task" && parts[1]) showTask(decodeURIComponent(parts.slice(1).join("/")));
  else showList(CONSOLE_STATES.includes(parts[1]) ? parts[1] : "scheduled", params.get("name") || "");
}

/** Runs a view step, reporting failures in the status line; stale steps (the view changed) are dropped. */
async function guarded(generation, step) {
  try {
    await step();
  } catch (error) {
    if (generation === viewGeneration) setStatus(error.message, true);
  }
}

// ---------------------------------------------------------------- confirmation and bulk progress

/** An in-page confirmation (works the same on a phone, and tests can read it). Resolves true on yes. */
function confirmBox(container, text, yesLabel) {
  return new Promise((resolve) => {
    const box = el("div", { className: "confirm", id: "confirm", role: "alertdialog" });
    const done = (answer) => {
      box.remove();
      resolve(answer);
    };
    box.append(el("span", { id: "confirm-text" }, text), el("button", { id: "confirm-yes", className: "danger", onclick: () => done(true) }, yesLabel),
      el("button", { id: "confirm-no", onclick: () => done(false) }, "Keep them"));
    container.querySelector("#confirm")?.remove();
    container.append(box);
  });
}

async function followJob(jobId, onProgress) {
  for (;;) {
    const job = await api(`/v1/bulk/${encodeURIComponent(jobId)}`);
    onProgress(job);
    if (job.status !== "running") return job;
    await new Promise((resolve) => setTimeout(resolve, BULK_POLL_MS));
  }
}

async function runBulk(container, action, state, namePrefix, afterwards) {
  const progress = container.querySelector("#bulk-progress");
  progress.hidden = false;
  progress.textContent = `Counting ${state} tasks whose name starts with "${namePrefix}"…`;
  const filter = { state, namePrefix };
  const counted = await followJob((await api("/v1/tasks/bulk", jsonPost({ action: "count", ...filter }))).jobId, (job) => {
    progress.textContent = `Counting… ${job.matched}`;
  });
  progress.hidden = true;
  const [verb, past] = ACTION_WORDS[action];
  if (counted.matched === 0) {
    setStatus(`no ${state} tasks whose name starts with "${namePrefix}"`);
    return;
  }
  const yes = await confirmBox(container, `${verb} ${counted.matched.toLocaleString("en-US")} ${state} tasks whose name starts with "${namePrefix}"?`, `${verb} ${counted.matched.toLocaleString("en-US")}`);
  if (!yes) return;
  const started = await api("/v1/tasks/bulk", jsonPost({ action, ...filter }));
  progress.hidden = false;
  const bar = el("progress", { max: String(counted.matched), value: "0" });
  const text = el("span", { id: "bulk-text" });
  progress.replaceChildren(text, bar);
  const job = await followJob(started.jobId, (current) => {
    bar.value = Math.min(current.matched, counted.matched);
    text.textContent = current.status === "running" ? `${verb}: ${current.matched.toLocaleString("en-US")} of about ${counted.matched.toLocaleString("en-US")}…` : "";
  });
  progress.dataset.done = String(job.done);
  progress.dataset.status = job.status;
  text.textContent = job.status === "done"
    ? `Done: ${job.done.toLocaleString("en-US")} tasks ${past}${job.skipped ? `, ${job.skipped.toLocaleString("en-US")} had moved on` : ""}.`
    : `Stopped after ${job.done.toLocaleString("en-US")} tasks: ${job.error}`;
  bar.remove();
  await afterwards();
}

function jsonPost(body) {
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

// ---------------------------------------------------------------- lists

function showList(state, namePrefix) {
  const generation = viewGeneration;
  const cursors = [null];
  const tabs = el("div", { className: "tabs" }, ...CONSOLE_STATES.map((s) =>
    el("a", { href: `#/tasks/${s}${namePrefix ? `?name=${encodeURIComponent(namePrefix)}` : ""}`, className: s === state ? "active" : "", dataset: { state: s } }, s)));
  const filter = el("form", { id: "list-filter" }, el("input", { id: "list-name", placeholder: "name prefix", value: namePrefix, "aria-label": "name prefix" }),
    el("button", { type: "submit" }, "Filter"));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = filter.querySelector("input").value.trim();
    location.hash = `#/tasks/${state}${value ? `?name=${encodeURIComponent(value)}` : ""}`;
  });
  const toolbar = el("div", { className: "toolbar" }, filter);
  const bulkActions = BULK_BY_STATE[state] || [];
  if (bulkActions.length > 0) {
    if (namePrefix) {
      for (const [action, label] of bulkActions) {
        const button = el("button", { className: "danger bulk", dataset: { action } }, label);
        button.addEventListener("click", async () => {
          button.disabled = true;
          await guarded(generation, () => runBulk(consoleView, action, state, namePrefix, () => load(null)));
          button.disabled = false;
        });
        toolbar.append(button);
      }
    } else {
      toolbar.append(el("span", { className: "muted" }, "filter by name to act on all of them"));
    }
  }
  const isTimed = state === "scheduled" || state === "failed";
  const headers = isTimed ? ["id", "name", "due", "time left", "attempt", "last error"]
    : state === "running" ? ["id", "name", "due", "deadline", "attempt", "last error"]
    : ["id", "name", "due", "finished", "attempts", "last error"];
  const table = el("table", { id: "task-list", dataset: { state } }, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))), el("tbody"));
  const pageInfo = el("span", { className: "muted", id: "page-info" });
  const first = el("button", { id: "page-first" }, "First page");
  const next = el("button", { id: "page-next" }, "Next page");
  const note = el("p", { className: "muted" }, isTimed
    ? "In due order across shards. Tasks due beyond the cold horizon (kept compact, without a time index) follow in storage order."
    : state === "running" ? "In claim order, shard by shard." : "In the order they finished (oldest kept first), across shards; listed for their retention.");
  consoleView.replaceChildren(el("h2", {}, "Tasks"), tabs, toolbar, el("div", { id: "bulk-progress", className: "progress", hidden: "" }), el("div", { className: "scroll" }, table),
    el("div", { className: "pager" }, first, next, pageInfo), note);

  async function load(cursor) {
    const query = new URLSearchParams({ state, limit: String(PAGE_SIZE) });
    if (state !== "running") query.set("order", "time");
    if (namePrefix) query.set("namePrefix", namePrefix);
    if (cursor) query.set("cursor", cursor);
    const page = await api(`/v1/tasks?${query}`);
    if (generation !== viewGeneration) return;
    if (!cursor) cursors.length = 1;
    const rows = page.tasks.map((task) => {
      const tr = el("tr", { dataset: { taskId: task.id, due: String(task.dueAt) } });
      const third = isTimed ? relative(task.dueAt) : state === "running" ? relative(task.visibilityDeadline) : relative(task.finishedAt);
      tr.append(el("td", {}, taskLink(task.id)), cell(task.name), cell(when(task.dueAt)), cell(task.paused ? `${third} (paused)` : third, isTimed ? "time-left" : ""),
        cell(`${task.attempt} / ${task.maxAttempts}`), cell(task.lastError, "error"));
      return tr;
    });
    table.tBodies[0].replaceChildren(...rows);
    table.dataset.loaded = String(Date.now());
    next.disabled = !page.nextCursor;
    next.onclick = () => {
      cursors.push(page.nextCursor);
      guarded(generation, () => load(page.nextCursor));
    };
    first.disabled = cursors.length <= 1 && !cursor;
    first.onclick = () => guarded(generation, () => load(null));
    pageInfo.textContent = rows.length === 0 ? `no ${state} tasks${namePrefix ? ` whose name starts with "${namePrefix}"` : ""} here` : `${rows.length} tasks on this page`;
  }
  guarded(generation, () => load(null));
}

// ---------------------------------------------------------------- one task

function showTask(id) {
  const generation = viewGeneration;
  consoleView.replaceChildren(el("h2", {}, "Task ", el("code", {}, id)), el("p", { className: "muted" }, "loading…"));
  let argsExpanded = false;

  async function render() {
    let task;
    try {
      task = await api(`/v1/tasks/${encodeURIComponent(id)}`);
    } catch (error) {
      if (generation !== viewGeneration) return;
      consoleView.replaceChildren(el("h2", {}, "Task ", el("code", {}, id)), el("p", { id: "task-missing", className: "muted" }, error.message));
      return;
    }
    const [history, shards] = await Promise.all([api(`/v1/tasks/${encodeURIComponent(id)}/attempts`), api("/admin/shards").catch(() => null)]);
    if (generation !== viewGeneration) return;
    const shard = shards && shards.shards.find((s) => s.shard === task.shard);
    const fields = [
      ["id", el("code", {}, task.id)],
      ["name", el("a", { href: `#/tasks/${task.state === "scheduled" && task.lastError ? "failed" : task.state}?name=${encodeURIComponent(task.name)}` }, task.name)],
      ["state", el("span", { className: `badge state-${task.state}`, id: "task-state" }, task.state)],
      ["due", el("span", { id: "task-due" }, fullTime(task.dueAt))],
      ["attempt", `${task.attempt} of ${task.maxAttempts}`],
      ["priority", task.priority],
      ["target", el("code", {}, JSON.stringify(task.target))],
      ["shard", task.shard],
      ["node", shard ? (shard.owner ?? "unowned") : "–"],
      ["created", fullTime(task.createdAt)],
      // Celery's stored result of a celery-target task (a node with TICKWHEEL_CELERY_RESULT_URL).
      ...(task.celery ? [["celery", `${task.celery.state}${task.celery.result === undefined ? "" : ` ${JSON.stringify(task.celery.result)}`}`]] : []),
    ];
    // A recurring schedule's occurrence (the schedules feature, branch sched: { name, occurrenceAt }).
    if (task.schedule !== undefined && task.schedule !== null) {
      const text = typeof task.schedule === "object" && typeof task.schedule.name === "string"
        ? `${task.schedule.name}${task.schedule.occurrenceAt ? ` · occurrence of ${when(task.schedule.occurrenceAt)}` : ""}`
        : JSON.stringify(task.schedule);
      fields.push(["schedule", el("span", { id: "task-schedule" }, text)]);
    }
    if (task.expiresAt !== undefined) fields.push(["expires", fullTime(task.expiresAt)]);
    if (task.finishedAt !== undefined) fields.push(["finished", fullTime(task.finishedAt)]);
    if (task.lastError !== undefined) fields.push(["last error", el("span", { className: "error" }, task.lastError)]);
    if (task.progress !== undefined) fields.push(["progress", el("code", { id: "task-progress" }, JSON.stringify(task.progress))]);
    const dl = el("dl", { className: "fields", id: "task-fields" });
    for (const [label, value] of fields) dl.append(el("dt", {}, label), el("dd", { dataset: { field: label } }, value instanceof Node ? value : String(value ?? "–")));

    const argsText = task.args === undefined ? "(none)" : JSON.stringify(task.args, null, 2);
    const argsPre = el("pre", { className: "json", id: "task-args" }, argsExpanded || argsText.length <= ARGS_PREVIEW_CHARS ? argsText : `${argsText.slice(0, ARGS_PREVIEW_CHARS)}\n…`);
    const argsMore = argsText.length > ARGS_PREVIEW_CHARS && !argsExpanded
      ? el("button", { id: "args-expand", onclick: () => { argsExpanded = true; guarded(generation, render); } }, `Show all ${argsText.length.toLocaleString("en-US")} characters`)
      : null;

    const attemptsTable = el("table", { id: "task-attempts" }, el("thead", {}, el("tr", {}, el("th", {}, "attempt"), el("th", {}, "failed at"), el("th", {}, "error"))), el("tbody", {},
      ...history.attempts.map((a) => el("tr", { dataset: { attempt: String(a.attempt) } }, cell(a.attempt), cell(`${when(a.at)} · ${relative(a.at)}`), cell(a.error, "error")))));
    const attemptsNote = history.attempts.length === 0
      ? el("p", { className: "muted" }, task.attempt === 0 ? "Not run yet." : "No attempt failed.")
      : el("p", { className: "muted" }, "The last 10 failed attempts are kept.");

    consoleView.replaceChildren(...[
      el("h2", {}, task.name, el("span", { className: `badge state-${task.state}` }, task.state)),
      actionsFor(task, generation, render),
      dl,
      el("h3", {}, "Args"), argsPre, argsMore,
      el("h3", {}, "Attempts"), el("div", { className: "scroll" }, attemptsTable), attemptsNote,
      task.result !== undefined ? el("h3", {}, "Result") : null,
      task.result !== undefined ? el("pre", { className: "json", id: "task-result" }, JSON.stringify(task.result, null, 2)) : null,
    ].filter((part) => part !== null));
    consoleView.dataset.taskState = task.state;
    if (task.state === "scheduled" || task.state === "running") viewTimer = setTimeout(() => guarded(generation, render), TASK_REFRESH_MS);
  }
  guarded(generation, render);
}

function actionsFor(task, generation, rerender) {
  const bar = el("div", { className: "toolbar", id: "task-actions" });
  const path = `/v1/tasks/${encodeURIComponent(task.id)}`;
  const act = (label, className, run) => {
    const button = el("button", { className, dataset: { action: className } }, label);
    button.addEventListener("click", async () => {
      button.disabled = true;
      await guarded(generation, async () => {
        await run();
        if (generation === viewGeneration) {
          clearTimeout(viewTimer);
          await rerender();
        }
      });
      button.disabled = false;
    });
    bar.append(button);
  };
  if (task.state === "scheduled") {
    act("Run now", "run-now", async () => {
      await api(`${path}/run-now`, { method: "POST" });
      setStatus(`${task.id} is due now`);
    });
    const input = el("input", { id: "reschedule-input", placeholder: "in 1h, 2d, or 2027-01-01T09:00Z", "aria-label": "new due time" });
    bar.append(input);
    act("Reschedule", "reschedule", async () => {
      const value = input.value.trim();
      if (!value) throw new Error("give a delay (90s, 10m, 1d) or a time");
      const body = /^\d+(\.\d+)?\s*(ms|s|m|h|d|w)?$/i.test(value) ? { delay: /^\d+$/.test(value) ? Number(value) : value } : { runAt: value };
      await api(path, { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      setStatus(`${task.id} rescheduled`);
    });
    act("Cancel", "cancel danger", async () => {
      await api(path, { method: "DELETE" });
      setStatus(`${task.id} cancelled`);
    });
  }
  if (task.state === "dead") {
    act("Retry", "retry", async () => {
      await api(`${path}/retry`, { method: "POST" });
      setStatus(`${task.id} requeued`);
    });
  }
  return bar;
}

// ---------------------------------------------------------------- cluster-wide charts

/** null: the whole cluster (every live node's series summed); else one node's id. */
let chartNode = null;

window.tickwheelStatsPath = () => (chartNode === null ? "/admin/cluster-stats" : `/admin/cluster-stats?node=${encodeURIComponent(chartNode)}`);

/** The scope buttons under the charts, and captions that say whose figures they are. */
function renderChartScope(nodes) {
  let picker = $("#chart-scope");
  if (!picker) {
    picker = el("div", { className: "node-picker", id: "chart-scope" });
    $(".charts").after(picker);
  }
  const scopeLabel = chartNode === null ? "all nodes" : `node ${chartNode}`;
  const captions = document.querySelectorAll(".charts figcaption");
  if (captions[0]) captions[0].textContent = `Tasks started per second, up to the last 5 minutes (${scopeLabel})`;
  if (captions[1]) captions[1].textContent = `Lateness in ms, p50 and p99 per second (${chartNode === null ? "worst node" : scopeLabel})`;
  const firedLabel = $("#fired-rate")?.previousElementSibling;
  if (firedLabel) firedLabel.textContent = `fired/s (${scopeLabel})`;
  const p99Label = $("#lateness-p99")?.previousElementSibling;
  if (p99Label) p99Label.textContent = `lateness p99 (${chartNode === null ? "worst node" : scopeLabel})`;
  const button = (id, label) => el("button", { className: chartNode === id ? "active" : "", dataset: { node: id ?? "" }, onclick: () => {
    chartNode = id;
    renderChartScope(nodes);
    if (typeof refreshStats === "function") refreshStats().catch((error) => setStatus(error.message, true));
  } }, label);
  picker.replaceChildren(el("span", { className: "muted" }, "charts for:"), button(null, "all nodes"), ...nodes.map((node) => button(node.id, node.id)));
}

async function refreshChartScope() {
  const stats = await api("/admin/cluster-stats");
  renderChartScope(stats.nodes);
  const down = stats.nodes.filter((node) => !node.ok);
  if (down.length > 0) setStatus(`no figures from ${down.map((node) => `${node.id} (${node.error})`).join(", ")}`, true);
}

// ---------------------------------------------------------------- wiring

$("#search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = $("#search-input").value.trim();
  if (id) location.hash = `#/task/${encodeURIComponent(id)}`;
});
// A token typed after a 401: show the current view again with it.
$("#token-form").addEventListener("submit", () => setTimeout(route, 0));
window.addEventListener("hashchange", route);
route();
(function scopeLoop() {
  refreshChartScope().catch(() => {}).finally(() => setTimeout(scopeLoop, 5000));
})();
