// svctl web: the programs table, fed by the server's event stream (docs/web.md).
// No framework and no build step: the DOM is built with textContent only (nothing the daemon
// or a program says is ever parsed as HTML).
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const body = document.querySelector("#programs tbody");
const rows = new Map(); // program name -> {tr, status, seenAt}
const LOG_LIMIT = 200000; // characters kept in the log pane
let selected = null;
let logFeed = null;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function duration(seconds) {
  if (seconds == null) return "-";
  let s = Math.max(Math.floor(seconds), 0);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const two = (n) => String(n).padStart(2, "0");
  if (d) return `${d}d${two(h)}h`;
  if (h) return `${h}h${two(m)}m`;
  if (m) return `${m}m${two(s)}s`;
  return `${s}s`;
}

function lastExit(code, signal) {
  if (signal) return signal.startsWith("SIG") ? signal : `SIG${signal}`;
  return code == null ? "-" : `exit ${code}`;
}

function count(value) {
  return value == null ? "" : (Number.isInteger(value) ? String(value) : String(+value.toPrecision(6)));
}

// As svctl status says it (render.progress_text): "index 30% (3/10 files): reading".
function progressText(progress) {
  const parts = [];
  if (progress.phase) parts.push(progress.phase);
  const { done, total, unit } = progress;
  let counted = done != null && total ? `${count(done)}/${count(total)}` : count(done);
  if (unit && counted) counted = `${counted} ${unit}`;
  if (done != null && total) {
    const share = Math.min(Math.max(done / total, 0), 1);
    parts.push(`${Math.round(share * 100)}% (${counted})`);
  } else if (counted) {
    parts.push(counted);
  }
  const text = parts.join(" ");
  if (!progress.message) return text;
  return text ? `${text}: ${progress.message}` : progress.message;
}

function messageCell(p) {
  const cell = el("td", { class: "message" });
  const progress = p.progress;
  if (progress && progress.done != null && progress.total) {
    const bar = el("progress", { max: String(progress.total), value: String(progress.done) });
    cell.append(bar, " ");
  }
  let said = p.waiting_for || p.message || "";
  const own = progress ? progressText(progress) : (p.notify_status || "");
  if (own) said = said ? `${said}; ${own}` : own;
  cell.append(said);
  return cell;
}

const RUNS = new Set(["STARTING", "RUNNING"]);
const DOWN = new Set(["STOPPED", "EXITED", "FATAL"]);

function render(entry) {
  const p = entry.status;
  const tr = entry.tr;
  const uptime = p.uptime == null ? null : p.uptime + (Date.now() / 1000 - entry.seenAt);
  tr.replaceChildren();
  const name = el("td", { class: "name" });
  const link = el("a", { href: "#" + encodeURIComponent(p.name) }, p.name);
  link.addEventListener("click", (event) => { event.preventDefault(); select(p.name); });
  name.append(link);
  tr.append(
    name,
    el("td", { class: `state state-${p.state}` }, p.state),
    el("td", { class: "pid num" }, p.pid == null ? "-" : String(p.pid)),
    el("td", { class: "uptime num" }, duration(uptime)),
    el("td", { class: "restarts num" }, String(p.restarts)),
    el("td", { class: "exit" }, lastExit(p.exit_code, p.exit_signal)),
    messageCell(p),
  );
  const actions = el("td", { class: "actions" });
  for (const action of ["start", "stop", "restart"]) {
    const button = el("button", { type: "button", "data-action": action }, action);
    button.disabled = (action === "start" && RUNS.has(p.state))
      || (action === "stop" && DOWN.has(p.state));
    button.addEventListener("click", () => act(p.name, action, button));
    actions.append(button);
  }
  tr.append(actions);
  tr.classList.toggle("selected", p.name === selected);
}

function upsert(status) {
  let entry = rows.get(status.name);
  if (!entry) {
    const tr = el("tr", { "data-program": status.name });
    entry = { tr, status, seenAt: 0 };
    rows.set(status.name, entry);
    body.append(tr);
  }
  entry.status = status;
  entry.seenAt = Date.now() / 1000;
  entry.tr.setAttribute("data-state", status.state);
  render(entry);
}

function replaceAll(list) {
  const names = new Set(list.map((p) => p.name));
  for (const [name, entry] of rows) {
    if (!names.has(name)) { entry.tr.remove(); rows.delete(name); }
  }
  for (const status of list) upsert(status);
  // Config order, as the daemon lists them.
  for (const status of list) body.append(rows.get(status.name).tr);
  if (selected && !names.has(selected)) select(null);
}

function notice(text, bad = false) {
  const node = document.getElementById("notice");
  node.textContent = text;
  node.hidden = !text;
  node.classList.toggle("bad", bad);
}

async function act(name, action, button) {
  button.disabled = true;
  notice(`${action} ${name}…`);
  try {
    const response = await fetch(`programs/${encodeURIComponent(name)}/${action}`, {
      method: "POST",
      headers: { "X-CSRF-Token": csrf },
      credentials: "same-origin",
    });
    if (!response.ok) {
      notice(`${action} ${name}: ${(await response.text()).trim()}`, true);
      return;
    }
    const results = await response.json();
    const failed = results.filter((r) => !r.ok);
    const said = results.map((r) => `${r.name}: ${r.message || r.state.toLowerCase()}`);
    notice(`${action}: ${said.join(", ")}`, failed.length > 0);
  } catch (error) {
    notice(`${action} ${name}: ${error}`, true);
  } finally {
    const entry = rows.get(name);
    if (entry) render(entry);
  }
}

async function loadHistory(name) {
  const response = await fetch(`programs/${encodeURIComponent(name)}/history`);
  if (name !== selected) return;
  const tbody = document.querySelector("#history tbody");
  if (!response.ok) {
    tbody.replaceChildren(el("tr", {}, ""));
    tbody.firstChild.append(el("td", { colspan: "5" }, (await response.text()).trim()));
    return;
  }
  const entries = await response.json();
  tbody.replaceChildren();
  for (const entry of entries.reverse()) {
    const tr = el("tr");
    tr.append(
      el("td", { class: "num" }, new Date(entry.at * 1000).toLocaleString()),
      el("td", {}, entry.kind),
      el("td", { class: "num" }, entry.pid == null ? "-" : String(entry.pid)),
      el("td", {}, lastExit(entry.exit_code, entry.exit_signal)),
      el("td", { class: "message" }, entry.reason || ""),
    );
    tbody.append(tr);
  }
}

function appendLog(text, cls) {
  const pane = document.getElementById("log");
  const atBottom = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
  pane.append(el("span", { class: cls }, text));
  while (pane.textContent.length > LOG_LIMIT && pane.firstChild) pane.firstChild.remove();
  if (atBottom) pane.scrollTop = pane.scrollHeight;
}

function select(name) {
  selected = name;
  if (logFeed) { logFeed.close(); logFeed = null; }
  for (const entry of rows.values()) entry.tr.classList.toggle("selected", entry.status.name === name);
  const detail = document.getElementById("detail");
  detail.hidden = !name;
  if (!name) return;
  document.getElementById("detail-name").textContent = name;
  document.getElementById("log").replaceChildren();
  document.querySelector("#history tbody").replaceChildren();
  const state = document.getElementById("log-state");
  state.textContent = "(connecting)";
  loadHistory(name);
  logFeed = new EventSource(`programs/${encodeURIComponent(name)}/logs`);
  logFeed.addEventListener("open", () => { state.textContent = "(live)"; });
  logFeed.addEventListener("log", (event) => {
    const item = JSON.parse(event.data);
    appendLog(item.text, item.stream);
  });
  logFeed.addEventListener("lagged", (event) => {
    const item = JSON.parse(event.data);
    appendLog(`[${item.dropped} bytes of ${item.stream} missed]\n`, "lagged");
  });
  for (const kind of ["end", "failure"]) {
    logFeed.addEventListener(kind, (event) => {
      const said = JSON.parse(event.data).message;
      state.textContent = said ? `(ended: ${said})` : "(ended)";
      logFeed.close();
      logFeed = null;
    });
  }
}

function connect() {
  const connection = document.getElementById("connection");
  const feed = new EventSource("events");
  feed.addEventListener("open", () => {
    connection.textContent = "live";
    connection.classList.remove("lost");
  });
  feed.addEventListener("error", () => {
    connection.textContent = "connection lost, reconnecting…";
    connection.classList.add("lost");
  });
  feed.addEventListener("failure", (event) => {
    connection.textContent = JSON.parse(event.data).message;
    connection.classList.add("lost");
  });
  feed.addEventListener("programs", (event) => replaceAll(JSON.parse(event.data)));
  feed.addEventListener("program", (event) => {
    const status = JSON.parse(event.data);
    const before = rows.get(status.name);
    const moved = !before || before.status.state !== status.state || before.status.pid !== status.pid;
    upsert(status);
    // A new state or a new run is a new history entry; a progress report or a probe is not.
    if (status.name === selected && moved) loadHistory(status.name);
  });
}

// Uptimes count on between events (drawn here, nothing is asked of the server).
setInterval(() => {
  for (const entry of rows.values()) {
    const p = entry.status;
    if (p.uptime == null) continue;
    const cell = entry.tr.querySelector("td.uptime");
    if (cell) cell.textContent = duration(p.uptime + (Date.now() / 1000 - entry.seenAt));
  }
}, 1000);

connect();
if (location.hash.length > 1) select(decodeURIComponent(location.hash.slice(1)));
