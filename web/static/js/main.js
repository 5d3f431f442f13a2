// The page: wires the query bar, the time bar, the graph, the table, the
// details panel and the live subscription, and keeps what the user sees
// in the URL's fragment (#q=…) so a reload or a shared link shows the same.

import { API } from "./api.js";
import { Answer, changesAsGraph, diffAnswers } from "./model.js";
import { GraphView } from "./graph.js";
import { TableView } from "./table.js";
import { QueryBar } from "./querybar.js";
import { Details } from "./details.js";
import { Live } from "./live.js";
import { TimeBar } from "./timebar.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

const api = new API(askKey);
const answer = new Answer();
const state = { query: "", mode: "live", at: "", run: 0, shown: [], changes: false, liveState: "stopped", view: "graph" };

const graph = new GraphView($("graph"), {
  onSelect: (id) => select(id),
  onGroup: (g) => { table.show(state.shown, { changes: state.changes, where: g }); setView("table"); },
  onHover: (text, x, y) => tooltip(text, x, y),
}, { graphLimit: Number(params.get("graphLimit")) || undefined });
const table = new TableView($("table-view"), { onSelect: (id) => select(id) });
const details = new Details($("details"), {
  query: async (text, at) => (await api.query(text, { at })),
  health: (id, at) => api.health(id, at),
  onSelect: (id, c) => select(id, c),
  onClose: () => graph.select(null),
});
const bar = new QueryBar({ onRun: (q) => run(q), values: (key, prefix) => values(key, prefix) });
const time = new TimeBar({ onChange: () => rerun() });
const live = new Live({
  onResult: (m, arrivedAt) => liveResult(m, arrivedAt),
  onDiff: (m, arrivedAt) => liveDiff(m, arrivedAt),
  onError: (e) => { bar.showError(state.query, e); setStatus("problem", "live: " + e.message); },
  onStatus: (s, detail) => liveStatus(s, detail),
}, () => api.key);

// ---- running queries

async function run(q) {
  state.query = q;
  bar.value = q;
  bar.remember(q);
  location.hash = new URLSearchParams({ q }).toString();
  await rerun();
}

/** Runs the current query in the time bar's mode: live (now, then subscribed), at a time, or changes. */
async function rerun() {
  const q = state.query;
  if (!q) return;
  const n = ++state.run, t = time.value();
  state.mode = t.mode;
  if (t.mode !== "live") live.stop();
  performance.clearMarks();
  performance.clearMeasures();
  performance.mark("tetra:run");
  setStatus("busy", "running…");
  let doc;
  try {
    if (t.mode === "changes") doc = await api.query(`${q} CHANGES FROM "${t.from}" TO "${t.to}"`);
    else doc = await api.query(q, { at: t.mode === "at" ? t.at : undefined });
  } catch (e) {
    if (n !== state.run) return;
    bar.showError(t.mode === "changes" ? `${q} CHANGES FROM "${t.from}" TO "${t.to}"` : q, e);
    setStatus("problem", e.class === "query" ? "the query has an error" : e.message);
    return;
  }
  if (n !== state.run) return; // a newer run started meanwhile
  performance.mark("tetra:answer");
  bar.showError(q, null);
  await draw(doc);
  if (t.mode === "live" && doc.topology) live.subscribe(q);
}

async function draw(doc) {
  if (doc.topology) {
    answer.reset(doc.topology);
    state.changes = false;
    state.shown = [...answer.components.values()];
    graph.show(state.shown, [...answer.relations.values()]);
    summary(doc.topology.truncated);
  } else if (doc.changes) {
    const g = changesAsGraph(doc.changes);
    answer.reset({ components: g.components, relations: g.relations });
    state.changes = true;
    state.shown = g.components;
    graph.show(g.components, g.relations);
    summary(doc.changes.truncated);
  } else {
    setStatus("problem", "this view draws topology answers; run METRICS, EVENTS and TRACES from a component's details");
    return;
  }
  performance.mark("tetra:graph-built");
  table.show(state.shown, { changes: state.changes });
  refreshDetails();
  performance.mark("tetra:table-built");
  await graph.rendered();
  performance.mark("tetra:drawn");
  measure("tetra:first-render", "tetra:answer", "tetra:drawn");
  measure("tetra:query-to-drawn", "tetra:run", "tetra:drawn");
  measure("tetra:graph-build", "tetra:answer", "tetra:graph-built");
  measure("tetra:table-build", "tetra:graph-built", "tetra:table-built");
  measure("tetra:paint", "tetra:table-built", "tetra:drawn");
  const t = time.value();
  setStatus(t.mode === "live" ? "busy" : "past", t.mode === "at" ? `at ${t.at}` : t.mode === "changes" ? `changes ${t.from} → ${t.to}` : "connecting live…");
}

// measure records a Performance API measure between two marks; a newer
// run may have cleared the marks meanwhile, and then there is nothing to
// measure.
function measure(name, from, to) {
  try { performance.measure(name, from, to); } catch { /* marks of an older run */ }
}

function summary(truncated) {
  const d = { mode: graph.mode };
  const n = answer.components.size, r = answer.relations.size;
  const count = (k, one) => `${k} ${one}${k === 1 ? "" : "s"}`;
  $("summary").textContent = `${count(n, "component")}, ${count(r, "relation")}` + (state.changes ? " changed" : "") + (d.mode === "grouped" ? ` · drawn as ${graph.count()} groups (more than ${graph.limit}); the table lists all` : "") + (truncated ? " · truncated" : "");
  $("graph-note").hidden = d.mode !== "grouped";
  $("graph-note").textContent = d.mode === "grouped" ? "Large answer: components are grouped by layer and type. Click a group for its table, or narrow the query." : "";
}

// ---- live

function liveResult(m, arrivedAt) {
  if (state.mode !== "live") return;
  // The REST answer is drawn already: change it in place into the
  // subscription's answer, which is usually the same.
  // result is the document POST /api/query answers ({schemaVersion, topology}).
  const r = m.result?.topology || m.result || { components: [], relations: [] };
  const d = diffAnswers(answer, r);
  answer.reset(r, m.seq);
  applied(d, arrivedAt);
}

function liveDiff(m, arrivedAt) {
  if (state.mode !== "live") return;
  applied(answer.apply(m), arrivedAt);
}

function applied(d, arrivedAt) {
  graph.apply(d);
  state.shown = [...answer.components.values()];
  table.show(state.shown, { changes: false });
  summary(false);
  if (details.id !== null && d.changed.components.some((c) => c.id === details.id)) refreshDetails();
  graph.rendered().then(() => performance.measure("tetra:live-apply", { start: arrivedAt, end: performance.now() }));
}

function liveStatus(s, detail) {
  state.liveState = s;
  if (state.mode !== "live") return;
  const text = { connecting: "connecting live…", live: "live", final: "answer is final (fixed time)", reconnecting: `reconnecting (${detail})…`,
    failed: `live updates unavailable: ${detail}`, stopped: "not live" }[s];
  setStatus(s === "live" ? "live" : s === "failed" || s === "reconnecting" ? "problem" : "busy", text);
}

// ---- details, selection, completion

// refreshDetails shows the open component as the new answer has it (at
// the new time), or closes the panel when the answer does not hold it.
function refreshDetails() {
  if (details.id === null) return;
  if (answer.components.has(details.id)) select(details.id, null, false);
  else details.hide();
}

function select(id, fallback, focus = true) {
  const c = answer.components.get(id) || fallback;
  if (!c) return;
  graph.select(id);
  const t = time.value();
  details.show(c, t.mode === "at" ? t.at : t.mode === "changes" ? t.to : "", focus);
}

const valueCache = new Map();
async function values(key, prefix) {
  const t = time.value();
  const k = key + "\u0000" + prefix + "\u0000" + (t.mode === "at" ? t.at : "");
  if (!valueCache.has(k)) valueCache.set(k, api.values(key, prefix, t.mode === "at" ? t.at : "").then((r) => r.values));
  return valueCache.get(k);
}

// ---- page furniture

function setStatus(kind, text) {
  const el = $("status");
  el.className = "status " + kind;
  el.textContent = text;
}

function tooltip(text, x, y) {
  const el = $("tooltip");
  el.hidden = !text;
  if (!text) return;
  el.textContent = text;
  el.style.left = x + 12 + "px"; // CSSOM, which the CSP allows (unlike style attributes in markup)
  el.style.top = y + 12 + "px";
}

function setView(v) {
  state.view = v;
  for (const [tab, panel, name] of [["tab-graph", "graph-view", "graph"], ["tab-table", "table-view", "table"]]) {
    $(tab).setAttribute("aria-selected", String(v === name));
    $(tab).tabIndex = v === name ? 0 : -1;
    $(panel).hidden = v !== name;
  }
  if (v === "graph") graph.cy.resize();
  else table.reveal();
}

let keyPrompt = null;
function askKey(reason) {
  if (keyPrompt) return keyPrompt;
  const dlg = $("key-dialog");
  $("key-reason").textContent = reason || "This server needs an API key.";
  $("key-input").value = "";
  keyPrompt = new Promise((resolve) => {
    $("key-form").onsubmit = (e) => {
      e.preventDefault();
      const k = $("key-input").value.trim();
      if (!k) return;
      dlg.close();
      keyPrompt = null;
      resolve(k);
    };
  });
  dlg.showModal();
  return keyPrompt;
}

function shortcuts() {
  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName);
    if (e.key === "/" && !typing) { e.preventDefault(); $("query").focus(); }
    else if (e.key === "Escape" && !$("details").hidden && !typing) details.hide();
    else if (!typing && !e.ctrlKey && !e.metaKey && !e.altKey && (e.key === "g" || e.key === "t")) setView(e.key === "g" ? "graph" : "table");
  });
  for (const [id, v] of [["tab-graph", "graph"], ["tab-table", "table"]]) {
    $(id).addEventListener("click", () => setView(v));
    $(id).addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") { setView(v === "graph" ? "table" : "graph"); $(v === "graph" ? "tab-table" : "tab-graph").focus(); }
    });
  }
}

async function start() {
  shortcuts();
  try {
    await api.whoami();
    const [vocab, tl] = await Promise.all([api.vocabulary(), api.timeline()]);
    bar.vocab = vocab;
    time.setTimeline(tl);
  } catch (e) {
    setStatus("problem", "cannot reach the server: " + e.message);
    return;
  }
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("q");
  await run(fromHash || bar.history()[0] || 'name = "*"');
}

// For tests and for people at the console: what is drawn, and the timings.
window.tetra = {
  drawn: () => graph.drawn(),
  state: () => ({ query: state.query, mode: state.mode, liveState: state.liveState, seq: answer.seq, components: answer.components.size, status: $("status").textContent }),
  measures: () => performance.getEntriesByType("measure").map((m) => ({ name: m.name, duration: m.duration })),
  time,
  ready: start(),
};
