// The side panel of one component: what the answer holds of it
// (properties, identifiers, labels, sources), its health with the check
// states and degraded dependencies behind it (GET
// /api/components/{id}/health), its neighbours at the
// view's time (a withNeighborsOf query), and its data up to the view's
// time: recent events (EVENTS FOR), its metrics as small charts with their
// last, lowest and highest values (METRICS FOR, means by the minute) and
// its slowest traces (TRACES FOR). A server without data stores answers
// those statements "unsupported", which gives a quiet note, never a broken
// panel.

import { h } from "./table.js";

export class Details {
  /**
   * @param {HTMLElement} el
   * @param {object} hd handlers: query(text, at) → Promise<result>, health(id, at) → Promise<health>, onSelect(id, component), onClose()
   */
  constructor(el, hd) {
    this.el = el;
    this.hd = hd;
    this.id = null;
    this.seq = 0;
  }

  /**
   * Shows a component (an element of the answer); at is the view's time
   * ("" for now). focus moves the keyboard focus to the panel: when the
   * user opened it, not when an update redraws it.
   */
  show(c, at, focus = true) {
    this.id = c.id;
    const seq = ++this.seq;
    const close = h("button", { type: "button", class: "close", "aria-label": "Close details" }, "×");
    close.addEventListener("click", () => this.hide());
    this.el.replaceChildren(
      close, h("h2", { id: "details-title", tabindex: "-1" }, c.name), h("div", { class: "quiet" }, `${c.type} · ${c.layer || "no layer"} · id ${c.id}`),
      section("Health", states(c), quiet("checks: loading…"), "details-health"),
      section("About", dl([["domain", c.domain], ["environments", (c.environments || []).join(", ")],
        ["updated", c.lastUpdateTimestamp ? new Date(c.lastUpdateTimestamp).toISOString() : ""], c.change ? ["change", `${c.change}${c.fields ? " (" + c.fields.join(", ") + ")" : ""}`] : null])),
      section("Identifiers", list(c.identifiers)),
      section("Labels", chips(c.labels)),
      section("Sources", list((c.sources || []).map((s) => `${s.source}: ${s.externalId}`))),
      section("Properties", c.properties ? h("pre", {}, JSON.stringify(c.properties, null, 2)) : quiet("none")),
      this.slot("Neighbours"), this.slot("Events"), this.slot("Metrics"), this.slot("Traces"),
    );
    this.el.hidden = false;
    if (focus) this.el.querySelector("#details-title").focus();
    this.load(c, at, seq);
  }

  hide() {
    this.el.hidden = true;
    this.id = null;
    this.hd.onClose();
  }

  slot(title) {
    return section(title, quiet("loading…"), null, "details-" + title.toLowerCase());
  }

  fill(name, seq, ...nodes) {
    if (seq !== this.seq) return; // another component is shown now
    const s = this.el.querySelector("#details-" + name);
    if (s) s.replaceChildren(s.firstChild, ...nodes);
  }

  async load(c, at, seq) {
    const id = c.id, q = (text) => this.hd.query(text, at);
    const tries = [
      ["health", "", (r) => this.health(r), () => this.hd.health(id, at)],
      ["neighbours", `withNeighborsOf(components = (id = ${id}), levels = "1", direction = "both")`, (r) => this.neighbours(id, r)],
      ["events", `EVENTS FOR (id = ${id}) FROM "-24h" LIMIT 20`, (r) => events(r.events)],
      ["metrics", `METRICS FOR (id = ${id}) FROM "-1h" AGGREGATE mean BY 1m LIMIT 4`, (r) => metrics(r.metrics)],
      ["traces", `TRACES FOR (id = ${id}) FROM "-1h" ORDER BY duration DESC LIMIT 10`, (r) => traces(r.traces)],
    ];
    await Promise.all(tries.map(async ([name, text, render, get = () => q(text)]) => {
      try {
        this.fill(name, seq, ...[render(await get())].flat());
      } catch (e) {
        this.fill(name, seq, ...[failed(name, text, e, c)].flat());
      }
    }));
  }

  /** health renders GET /api/components/{id}/health: the states, the checks, the degraded dependencies. */
  health(r) {
    const checks = r.checks.length ? h("ul", { class: "checks" }, ...r.checks.map(check)) : quiet("no check states");
    const deps = r.dependencies.map((d) => h("li", {}, healthChip(d.component.propagatedHealthState), " ", this.link(d.component), ` (${d.component.type})`));
    return [states(r.component), h("h4", {}, "Checks"), checks,
      deps.length ? [h("h4", {}, "Degraded dependencies"), h("ul", { class: "dependencies" }, ...deps)] : []].flat();
  }

  /** link is a component's name that opens its details. */
  link(c) {
    const a = h("a", { tabindex: "0", role: "link" }, c.name);
    const open = () => this.hd.onSelect(c.id, c);
    a.addEventListener("click", open);
    a.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    return a;
  }

  neighbours(id, r) {
    const t = r.topology;
    const by = new Map(t.components.map((c) => [c.id, c]));
    const rows = t.relations.filter((rel) => rel.source === id || rel.target === id).map((rel) => {
      const out = rel.source === id, other = by.get(out ? rel.target : rel.source);
      if (!other) return null;
      return h("li", {}, out ? `→ ${rel.type} ` : `← ${rel.type} `, this.link(other), ` (${other.type})`);
    }).filter(Boolean);
    return rows.length ? h("ul", {}, ...rows) : quiet("none");
  }
}

function section(title, body, extra = null, id = null) {
  const s = h("section", id ? { id } : {}, h("h3", {}, title), body);
  if (extra) s.append(extra);
  return s;
}
function quiet(text) { return h("p", { class: "quiet" }, text); }
function dl(pairs) {
  const d = h("dl");
  for (const p of pairs) if (p && p[1] !== undefined && p[1] !== "") d.append(h("dt", {}, p[0]), h("dd", {}, p[1]));
  return d;
}
function list(items) { return items && items.length ? h("ul", {}, ...items.map((x) => h("li", {}, String(x)))) : quiet("none"); }
function chips(items) { return items && items.length ? h("div", { class: "chips" }, ...items.map((x) => h("span", { class: "chip" }, x))) : quiet("none"); }
function healthChip(s) { return h("span", { class: "health " + (s || "UNKNOWN") }, s || "UNKNOWN"); }

// states lists a component's own and propagated health states.
function states(c) {
  const rows = [["own", healthChip(c.healthState)]];
  if (c.propagatedHealthState) rows.push(["propagated", healthChip(c.propagatedHealthState)]);
  return dl(rows);
}

// check is one check state: its state, name and message (markdown, shown
// as written), and where it comes from.
function check(k) {
  return h("li", {}, healthChip(k.health), " ", h("strong", {}, k.name), k.message ? ` — ${k.message}` : "",
    h("div", { class: "quiet" }, `${k.stream} · ${k.checkStateId} · ${new Date(k.lastUpdateTimestamp).toISOString().replace("T", " ").slice(0, 19)}`));
}

// failed is what a part of the panel says when its request failed: quiet
// for what the server does not have (no data stores, no health at that
// time), the error otherwise.
function failed(name, text, e, c) {
  if (name === "health") {
    return [states(c), quiet(e.status === 404 ? "no health at this time" : `checks could not load: ${e.message}`)];
  }
  if (e.class === "unsupported") return quiet(`no ${name === "neighbours" ? "neighbours" : "telemetry"}: this server does not run ${text.split(" ")[0]} yet`);
  return quiet(`could not load: ${e.message}`);
}

function events(r) {
  const evs = r?.events || [];
  if (!evs.length) return quiet("none in the last 24 hours");
  return h("ul", {}, ...evs.map((e) => h("li", {}, `${new Date(e.timestamp).toISOString().replace("T", " ").slice(0, 19)} `, h("strong", {}, e.name || e.type), e.message ? ` — ${e.message}` : "")));
}

function metrics(r) {
  const series = r?.series || [];
  if (!series.length) return quiet("none in the last hour");
  const out = series.map((s) => {
    const m = seriesSummary(s);
    return h("div", { class: "series" },
      h("div", {}, h("strong", {}, m.name), m.last === null ? null : ` ${short(m.last)}`,
        m.last === null ? null : h("span", { class: "quiet" }, ` (low ${short(m.min)}, high ${short(m.max)})`)),
      m.tags ? h("div", { class: "quiet" }, m.tags) : null, spark(s.points || []));
  });
  if (r.truncated) out.push(quiet("more series: METRICS FOR (id = …) lists them all"));
  return out;
}

/**
 * seriesSummary describes a series of a METRICS result: its metric's name,
 * its other labels as text, and its last, lowest and highest values
 * (missing values, null in the JSON, are skipped; null when none is left).
 */
export function seriesSummary(s) {
  const labels = { ...(s.labels || {}) };
  const name = labels.name || "(unnamed)";
  delete labels.name;
  const vs = (s.points || []).map((p) => p[1]).filter((v) => v !== null);
  if (!vs.length) return { name, tags: tagsText(labels), last: null, min: null, max: null };
  return { name, tags: tagsText(labels), last: vs[vs.length - 1], min: Math.min(...vs), max: Math.max(...vs) };
}

/** short writes a number in three significant digits, with k, M, G, T for large ones. */
export function short(v) {
  const a = Math.abs(v);
  for (const [n, unit] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (a >= n) return Number((v / n).toPrecision(3)) + unit;
  }
  return String(Number(v.toPrecision(3)));
}

function traces(r) {
  const ts = r?.traces || [];
  if (!ts.length) return quiet("none in the last hour");
  return h("ul", {}, ...ts.map((t) => h("li", {}, `${t.rootService}: ${t.rootName} `, h("strong", {}, `${(t.durationNano / 1e6).toFixed(1)} ms`), ` · ${t.spanCount} spans${t.error ? " · error" : ""}`)));
}

function tagsText(tags) {
  if (Array.isArray(tags)) return tags.map((t) => (t.key ?? t.Key) + ":" + (t.value ?? t.Value)).join(", ");
  return Object.entries(tags || {}).map(([k, v]) => k + ":" + v).join(", ");
}

/** spark draws points [[t, v], …] as a small line chart (SVG, no inline style). */
export function spark(points) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 100 30");
  svg.setAttribute("preserveAspectRatio", "none");
  const ps = points.filter((p) => p[1] !== null);
  if (ps.length < 2) return svg;
  const t0 = ps[0][0], t1 = ps[ps.length - 1][0] || t0 + 1;
  const vs = ps.map((p) => p[1]), lo = Math.min(...vs), hi = Math.max(...vs);
  const d = ps.map((p, i) => `${i ? "L" : "M"}${((p[0] - t0) / (t1 - t0 || 1) * 100).toFixed(2)},${(28 - (p[1] - lo) / (hi - lo || 1) * 26).toFixed(2)}`).join("");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}
