// tickwheel dashboard: plain browser JS, no build step. It polls the node's own API
// (/admin/shards, /admin/nodes, /admin/stats, /v1/tasks?state=dead, /v1/paused, /v1/schedules) and
// draws two charts on <canvas>. With TICKWHEEL_API_TOKEN set, the token typed into the
// header is kept in this browser's localStorage and sent as a bearer token.
"use strict";

const TOKEN_KEY = "tickwheel.token";
const FAST_MS = 1000; // stats and charts
const SLOW_MS = 2000; // shards, nodes, dead tasks, paused names
const $ = (selector) => document.querySelector(selector);

let authFailed = false;
let renders = 0;

async function api(path, init = {}) {
  const headers = { ...(init.headers || {}) };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401) {
    // Only a refusal of the token in use now counts (a request sent before it was saved does not).
    if (token === localStorage.getItem(TOKEN_KEY)) {
      authFailed = true;
      $("#token-form").hidden = false;
    }
    throw new Error(token ? "the node refused the API token" : "the node needs an API token");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error((body && body.error && body.error.message) || `${response.status} ${response.statusText}`);
  return body;
}

function setStatus(text, isError) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", !!isError);
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (className) td.className = className;
  return td;
}

function fillTable(selector, rows) {
  const body = $(`${selector} tbody`);
  body.replaceChildren(...rows);
}

function relative(ms) {
  if (ms === null || ms === undefined) return "–";
  const delta = ms - Date.now();
  const abs = Math.abs(delta);
  const text = abs < 1000 ? `${abs} ms` : abs < 120000 ? `${Math.round(abs / 1000)} s` : abs < 7200000 ? `${Math.round(abs / 60000)} min` : abs < 172800000 ? `${Math.round(abs / 3600000)} h` : `${Math.round(abs / 86400000)} d`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

function when(ms) {
  return ms === null || ms === undefined ? "–" : new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// ---------------------------------------------------------------- shards and nodes

/** A running resize (docs/resharding.md): slots and tasks moved, and each source shard's phase. */
function showResize(resize) {
  const line = $("#resize");
  if (!resize || resize.state === "stable") {
    line.hidden = true;
    return;
  }
  const perShard = resize.shards.map((s) => `${s.shard}: ${s.phase}, ${s.tasksMoved} tasks`).join(" · ");
  line.textContent = `Resizing ${resize.count} → ${resize.resizingTo} shards (${resize.state}): ` +
    `${resize.slotsMoved} / ${resize.slotsTotal} slots, ${resize.tasksMoved} tasks moved. ${perShard}`;
  line.hidden = false;
}

async function refreshShards() {
  const { nodeId, shards, resize } = await api("/admin/shards");
  $("#node-id").textContent = `node ${nodeId}`;
  showResize(resize);
  let due = 0, inFlight = 0, dead = 0;
  const rows = shards.map((shard) => {
    due += shard.dueCount;
    inFlight += shard.inFlight;
    dead += shard.dead;
    const tr = document.createElement("tr");
    tr.dataset.shard = String(shard.shard);
    const lateness = shard.latenessP50Ms === null ? "–" : `${shard.latenessP50Ms} / ${shard.latenessP99Ms} ms`;
    tr.append(cell(shard.shard), cell(shard.owner ?? "unowned"), cell(shard.epoch), cell(shard.dueCount), cell(shard.inFlight), cell(shard.dead),
      cell(relative(shard.nextDueAt)), cell(shard.fired), cell(lateness));
    return tr;
  });
  fillTable("#shards", rows);
  $("#total-shards").textContent = String(shards.length);
  $("#total-due").textContent = String(due);
  $("#total-inflight").textContent = String(inFlight);
  $("#total-dead").textContent = String(dead);
  return shards;
}

async function refreshNodes(shards) {
  let nodes;
  try {
    nodes = (await api("/admin/nodes")).nodes;
  } catch {
    // No registry on this node: show the owners the shard leases name.
    const owners = new Map();
    for (const shard of shards) if (shard.owner) owners.set(shard.owner, (owners.get(shard.owner) || []).concat(shard.shard));
    nodes = [...owners].map(([id, owned]) => ({ id, shards: owned }));
  }
  fillTable("#nodes", nodes.map((node) => {
    const tr = document.createElement("tr");
    tr.dataset.node = node.id;
    const pool = node.pool ? `${node.pool.inFlight} / ${node.pool.concurrency}` : "–";
    // Warnings an operator must see (the node fires by Redis' clock, but a skewed clock or an evicting Redis are worth acting on).
    const warnings = [];
    if (node.clock && node.clock.skewed) warnings.push(`clock ${node.clock.offsetMs > 0 ? "+" : ""}${node.clock.offsetMs} ms off Redis'`);
    if (node.redis && node.redis.evicting) warnings.push(`Redis may evict keys (${node.redis.maxmemoryPolicy})`);
    const label = (node.self ? `${node.id} (this node)` : node.id) + (warnings.length ? ` ⚠ ${warnings.join("; ")}` : "");
    tr.append(cell(label), cell(node.address), cell((node.shards || []).length),
      cell(node.pool ? node.pool.inFlight : null), cell(pool), cell(node.startedAt ? relative(node.startedAt) : null));
    return tr;
  }));
}

// ---------------------------------------------------------------- dead tasks and paused names

async function refreshDead() {
  const { tasks, nextCursor } = await api("/v1/tasks?state=dead&limit=100");
  $("#dead-more").hidden = !nextCursor;
  fillTable("#dead", tasks.map((task) => {
    const tr = document.createElement("tr");
    tr.dataset.deadId = task.id;
    const button = document.createElement("button");
    button.className = "retry";
    button.textContent = "Retry";
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await api(`/v1/tasks/${encodeURIComponent(task.id)}/retry`, { method: "POST" });
        setStatus(`requeued ${task.id}`);
        tr.remove();
        await refreshDead();
      } catch (error) {
        button.disabled = false;
        setStatus(`retry failed: ${error.message}`, true);
      }
    });
    const action = document.createElement("td");
    action.append(button);
    tr.append(cell(task.id), cell(task.name), cell(describeTarget(task.target)), cell(`${task.attempt} / ${task.maxAttempts}`), cell(relative(task.finishedAt)), cell(task.lastError, "error"), action);
    return tr;
  }));
}

/**
 * Where a task goes when due: "handler", the target's type and address ("webhook https://…"), or
 * the Celery task and its queue ("celery app.tasks.x (queue mail, priority 3)").
 */
function describeTarget(target) {
  if (!target || target.type === "handler") return "handler";
  if (target.type === "celery") {
    const details = [target.queue && `queue ${target.queue}`, target.priority !== undefined && `priority ${target.priority}`].filter(Boolean);
    return `celery ${target.task}${details.length ? ` (${details.join(", ")})` : ""}`;
  }
  return target.url ? `${target.type} ${target.url}` : target.type;
}

async function refreshPaused() {
  const { paused } = await api("/v1/paused");
  fillTable("#paused", paused.map((entry) => {
    const tr = document.createElement("tr");
    const button = document.createElement("button");
    button.textContent = "Resume";
    button.addEventListener("click", async () => {
      button.disabled = true;
      await api(`/v1/names/${encodeURIComponent(entry.name)}/resume`, { method: "POST" }).catch((error) => setStatus(error.message, true));
      await refreshPaused();
    });
    const action = document.createElement("td");
    action.append(button);
    tr.append(cell(entry.name), cell(when(entry.pausedAt)), action);
    return tr;
  }));
}

// ---------------------------------------------------------------- schedules

async function refreshSchedules() {
  const { schedules, nextCursor } = await api("/v1/schedules?limit=100");
  $("#schedules-more").hidden = nextCursor === null;
  fillTable("#schedules", schedules.map((schedule) => {
    const tr = document.createElement("tr");
    tr.dataset.schedule = schedule.name;
    const rule = schedule.cron !== undefined ? `${schedule.cron} (${schedule.tz})` : `every ${schedule.every} ms`;
    const last = schedule.lastOccurrence ? `${schedule.lastOccurrence.state} at ${schedule.lastOccurrence.at}` : "–";
    const button = document.createElement("button");
    button.textContent = schedule.paused ? "Resume" : "Pause";
    button.addEventListener("click", async () => {
      button.disabled = true;
      const action = schedule.paused ? "resume" : "pause";
      await api(`/v1/schedules/${encodeURIComponent(schedule.name)}/${action}`, { method: "POST" }).catch((error) => setStatus(error.message, true));
      await refreshSchedules().catch(() => {});
    });
    const action = document.createElement("td");
    action.append(button);
    tr.append(cell(schedule.name), cell(rule), cell(schedule.task.name), cell(schedule.next.slice(0, 2).join(", ") || "–", "next"),
      cell(last, "last"), cell(schedule.paused ? "paused" : "active", "state"), action);
    return tr;
  }));
}

// ---------------------------------------------------------------- charts

function drawChart(canvas, seriesList, unit, spanLabel) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const left = 44, right = 8, top = 8, bottom = 20;
  const plotW = width - left - right, plotH = height - top - bottom;
  let max = 1;
  for (const series of seriesList) for (const v of series.values) if (v !== null && v > max) max = v;
  max = niceCeiling(max);
  // grid and labels
  ctx.strokeStyle = "#e3e6ee";
  ctx.fillStyle = "#6b7385";
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + plotH - (plotH * i) / 4;
    ctx.beginPath();
    ctx.moveTo(left, y + 0.5);
    ctx.lineTo(left + plotW, y + 0.5);
    ctx.stroke();
    ctx.fillText(formatNumber((max * i) / 4) + (i === 4 ? ` ${unit}` : ""), 2, y + 4);
  }
  ctx.fillText(spanLabel, left, height - 4);
  ctx.fillText("now", left + plotW - 22, height - 4);
  let drawn = 0;
  for (const series of seriesList) {
    const n = series.values.length;
    ctx.strokeStyle = series.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    let pen = false;
    series.values.forEach((value, i) => {
      if (value === null) {
        pen = false;
        return;
      }
      const x = left + (n <= 1 ? plotW : (plotW * i) / (n - 1));
      const y = top + plotH - (plotH * value) / max;
      if (pen) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      pen = true;
      drawn++;
    });
    ctx.stroke();
  }
  // legend
  let x = left + 6;
  for (const series of seriesList) {
    ctx.fillStyle = series.color;
    ctx.fillRect(x, top + 2, 10, 3);
    ctx.fillStyle = "#1d2330";
    ctx.fillText(series.label, x + 14, top + 8);
    x += ctx.measureText(series.label).width + 30;
  }
  canvas.dataset.points = String(drawn);
}

function niceCeiling(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function formatNumber(value) {
  return value >= 1000 ? `${(value / 1000).toFixed(value >= 10000 ? 0 : 1)}k` : String(Math.round(value * 10) / 10);
}

async function refreshStats() {
  // console.js picks the scope (the whole cluster, or one node) once it has loaded.
  const stats = await api(typeof window.tickwheelStatsPath === "function" ? window.tickwheelStatsPath() : "/admin/stats");
  // Seconds before the node started are not "zero tasks": leave them out (but show at least a minute).
  const shown = Math.max(60, Math.ceil((stats.now - stats.startedAt) / 1000) + 1);
  const series = stats.series.slice(-shown);
  const span = series.length >= 120 ? `-${Math.round(series.length / 60)} min` : `-${series.length} s`;
  drawChart($("#chart-fired"), [{ label: "started/s", color: "#2f6fde", values: series.map((p) => p.fired) }], "/s", span);
  drawChart($("#chart-lateness"), [
    { label: "p50", color: "#16a34a", values: series.map((p) => p.latenessP50Ms) },
    { label: "p99", color: "#c2410c", values: series.map((p) => p.latenessP99Ms) },
  ], "ms", span);
  const last = series[series.length - 1];
  $("#fired-rate").textContent = last ? String(last.fired) : "–";
  const recent = series.slice(-10).map((p) => p.latenessP99Ms).filter((v) => v !== null);
  $("#lateness-p99").textContent = recent.length ? `${Math.max(...recent)} ms` : "–";
}

// ---------------------------------------------------------------- loops

function loop(step, everyMs) {
  const run = async () => {
    try {
      await step();
      if (!authFailed) setStatus(`updated ${new Date().toLocaleTimeString()}`);
      document.body.dataset.renders = String(++renders);
    } catch (error) {
      setStatus(error.message, true);
    }
    setTimeout(run, everyMs);
  };
  run();
}

// ---------------------------------------------------------------- one task

async function showTask(id) {
  const task = await api(`/v1/tasks/${encodeURIComponent(id)}`);
  const rows = [
    ["id", task.id],
    ["name", task.name],
    ["state", task.state],
    ["target", describeTarget(task.target)],
    ["celery", task.celery && `${task.celery.state}${task.celery.result === undefined ? "" : ` ${JSON.stringify(task.celery.result)}`}`],
    ["due", `${when(task.dueAt)} (${relative(task.dueAt)})`],
    ["attempt", `${task.attempt} / ${task.maxAttempts}`],
    ["finished", task.finishedAt && when(task.finishedAt)],
    ["last error", task.lastError],
    ["result", task.result === undefined ? undefined : JSON.stringify(task.result)],
  ].filter(([, value]) => value !== undefined && value !== null);
  fillTable("#task", rows.map(([key, value]) => {
    const tr = document.createElement("tr");
    tr.dataset.field = key;
    tr.append(cell(key, "muted"), cell(value));
    return tr;
  }));
}

$("#task-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = $("#task-id").value.trim();
  if (!id) return;
  await showTask(id).catch((error) => {
    fillTable("#task", []);
    setStatus(error.message, true);
  });
});

$("#token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("#token-input").value.trim());
  authFailed = false;
  $("#token-form").hidden = true;
  setStatus("token saved");
});

$("#pause-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("#pause-name").value.trim();
  if (!name) return;
  await api(`/v1/names/${encodeURIComponent(name)}/pause`, { method: "POST" }).catch((error) => setStatus(error.message, true));
  $("#pause-name").value = "";
  await refreshPaused().catch(() => {});
});

loop(refreshStats, FAST_MS);
loop(async () => refreshNodes(await refreshShards()), SLOW_MS);
loop(refreshDead, SLOW_MS);
loop(refreshPaused, SLOW_MS);
loop(refreshSchedules, SLOW_MS);
