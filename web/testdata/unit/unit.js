// Unit tests of the web view's modules, run in a real browser by
// web/unit_test.go: the lane layout, the answer model and its diffs, the
// query bar's lexer, completion context and caret errors, the time fields,
// the graph's in-place updates, and the live client against the protocol
// of docs/websocket.md, with a scripted WebSocket in place of the server.

const base = new URLSearchParams(location.search).get("base");
const { compareLanes, LaneLayout, orderWithinLanes, laneName } = await import(base + "js/lanes.js");
const { Answer, diffAnswers, changesAsGraph } = await import(base + "js/model.js");
const { lex, context, caretError, quote } = await import(base + "js/querybar.js");
const { toLocal, fromLocal } = await import(base + "js/timebar.js");
const { Live, protocol, keyProtocol } = await import(base + "js/live.js");
const { GraphView } = await import(base + "js/graph.js");
const { healthColour } = await import(base + "js/health.js");
const { seriesSummary, short, spark } = await import(base + "js/details.js");

const tests = [];
const test = (name, f) => tests.push({ name, f });
const eq = (got, want, what = "") => {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what} got ${g}, want ${w}`);
};
const ok = (c, what) => { if (!c) throw new Error(what); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(f, what, ms = 3000) {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(5)) if (f()) return;
  throw new Error("timed out waiting for " + what);
}

// ---- lanes

test("lanes: business at the top, machines at the bottom, unknown layers between", () => {
  const names = ["Clusters", "Machines", "Uncategorized", "Zeta", "Alpha", "Databases", "Containers", "Services", "Business Services", "hosts", "Pods"];
  eq(names.sort(compareLanes), ["Business Services", "Services", "Containers", "Pods", "Databases", "Alpha", "Zeta", "Uncategorized", "hosts", "Machines", "Clusters"]);
  eq(laneName(""), "Uncategorized");
  eq(laneName(" "), "Uncategorized");
});

const comps = (spec) => spec.map(([id, layer, type, name]) => ({ id, layer, type: type || "t", name: name || "c" + id }));

test("lanes: a full layout puts every lane in its band, in order", () => {
  const l = new LaneLayout();
  const pos = l.full(comps([[1, "Machines"], [2, "Services"], [3, "Containers"], [4, "Services"], [5, ""]]), []);
  eq(l.bands().map((b) => b.name), ["Services", "Containers", "Uncategorized", "Machines"]);
  ok(pos.get(2).y === pos.get(4).y && pos.get(2).y < pos.get(3).y && pos.get(3).y < pos.get(5).y && pos.get(5).y < pos.get(1).y, "bands out of order");
  ok(pos.get(2).x !== pos.get(4).x, "two components share a place");
});

test("lanes: a component with its neighbours in other lanes sits under them", () => {
  // Two services, each with a pod; the pods' names would sort them the other way.
  const cs = comps([[1, "Services", "service", "a"], [2, "Services", "service", "b"], [3, "Containers", "pod", "x-of-b"], [4, "Containers", "pod", "y-of-a"]]);
  const order = orderWithinLanes([cs.slice(0, 2), cs.slice(2)], [{ source: 1, target: 4 }, { source: 2, target: 3 }]);
  eq(order, [[1, 2], [4, 3]]);
});

test("lanes: additions never move what is placed; a new lane moves the lanes below together", () => {
  const l = new LaneLayout({ maxPerRow: 2 });
  l.full(comps([[1, "Services"], [2, "Services"], [3, "Machines"]]), []);
  const before = new Map([...l.pos].map(([k, v]) => [k, { ...v }]));
  const p = l.add({ id: 4, layer: "Services", type: "t", name: "n" });
  for (const [id, q] of before) eq(l.pos.get(id), q, "position of " + id);
  ok(!before.has(4) && ![...before.values()].some((q) => q.x === p.x && q.y === p.y), "the new one took a used place");
  l.add({ id: 5, layer: "Databases", type: "t", name: "db" });
  const dy = l.pos.get(3).y - before.get(3).y;
  ok(dy > 0, "machines did not move below the new lane");
  eq(l.pos.get(1), before.get(1), "services above the new lane moved");
  ok(l.pos.get(5).y > l.pos.get(1).y && l.pos.get(5).y < l.pos.get(3).y, "the new lane is not between services and machines");
  l.remove(1);
  eq(l.pos.get(2), before.get(2), "removing moved a neighbour");
});

// ---- the answer and diffs

const c = (id, extra = {}) => ({ id, name: "c" + id, type: "service", layer: "Services", healthState: "CLEAR", labels: [], ...extra });

test("answer: a diff adds, removes and changes in place", () => {
  const a = new Answer();
  a.reset({ components: [c(1), c(2)], relations: [{ id: 10, source: 1, target: 2, type: "calls" }] }, "100");
  const d = a.apply({ type: "diff", from: "100", seq: "200",
    added: { components: [c(3)], relations: [{ id: 11, source: 1, target: 3, type: "calls" }] },
    removed: { components: [2], relations: [10] },
    changed: { components: [{ id: 1, fields: ["healthState", "properties"], values: { healthState: "CRITICAL", properties: null } }], relations: [] } });
  eq([...a.components.keys()].sort(), [1, 3]);
  eq(a.components.get(1).healthState, "CRITICAL");
  ok(!("properties" in a.components.get(1)), "a null value did not remove the field");
  eq(a.seq, "200");
  eq(d.removed.components.map((x) => x.id), [2]);
  eq(d.changed.components[0].fields, ["healthState", "properties"]);
});

test("answer: a diff from another seq does not apply", () => {
  const a = new Answer();
  a.reset({ components: [c(1)], relations: [] }, "100");
  let threw = false;
  try { a.apply({ from: "99", seq: "200", added: {}, removed: {}, changed: {} }); } catch { threw = true; }
  ok(threw, "applied a diff from 99 to an answer at 100");
  eq(a.seq, "100");
});

test("answer: the difference of two answers", () => {
  const a = new Answer();
  a.reset({ components: [c(1), c(2)], relations: [] });
  const d = diffAnswers(a, { components: [c(1, { healthState: "CRITICAL" }), c(3)], relations: [] });
  eq(d.added.components.map((x) => x.id), [3]);
  eq(d.removed.components.map((x) => x.id), [2]);
  eq(d.changed.components.map((x) => [x.id, x.fields]), [[1, ["healthState"]]]);
});

test("changes: added, removed and changed elements in one graph", () => {
  const g = changesAsGraph({ added: { components: [c(1)], relations: [] }, removed: { components: [c(2)], relations: [] },
    changed: { components: [{ before: c(3), after: c(3, { name: "new" }), fields: ["name"] }], relations: [] } });
  eq(g.components.map((x) => [x.id, x.change]).sort(), [[1, "added"], [2, "removed"], [3, "changed"]]);
  eq(g.components.find((x) => x.id === 3).name, "new");
});

// ---- the query bar

const vocab = { keyAliases: { type: "type", name: "name", label: "label", layer: "layer" } };

test("query bar: tokens, with a string left open", () => {
  eq(lex(`type = "ser`).map((t) => [t.kind, t.text, t.closed]), [["ident", "type", undefined], ["punct", "=", undefined], ["string", '"ser', false]]);
  eq(lex(`a IN ("x\\"y", 'z')`).filter((t) => t.kind === "string").map((t) => t.value), ['x"y', "z"]);
});

test("query bar: what to complete where", () => {
  eq(context(`type = "se`, 10, vocab), { kind: "value", key: "type", prefix: "se", from: 7, quoted: true });
  eq(context(`name IN ("a", "b`, 16, vocab), { kind: "value", key: "name", prefix: "b", from: 14, quoted: true });
  eq(context(`ty`, 2, vocab), { kind: "word", prefix: "ty", from: 0 });
  eq(context(`type = "service" AND la`, 23, vocab), { kind: "word", prefix: "la", from: 21 });
  eq(context(`layer = `, 8, vocab), { kind: "value", key: "layer", prefix: "", from: 8, quoted: false });
  eq(context(`nope = "x`, 9, vocab), null);
  eq(quote(`a "b" \\`), `"a \\"b\\" \\\\"`);
});

test("query bar: the caret sits under the span, in characters", () => {
  const src = `name = "é" AND enviroment = "x"`;
  const bytesBefore = new TextEncoder().encode(`name = "é" AND `).length;
  const r = caretError(src, { message: `unknown key "enviroment"`, line: 1, col: 16, offset: bytesBefore, length: 10, hint: `did you mean "environment"?` });
  eq(r.text.split("\n"), [`1:16: unknown key "enviroment"`, "  " + src, "  " + " ".repeat(15) + "^".repeat(10), `hint: did you mean "environment"?`]);
  eq(src.slice(r.from, r.to), "enviroment");
  eq(caretError("x", { message: "server busy" }).text, "server busy");
});

test("time: local date fields round-trip", () => {
  const t = Date.UTC(2026, 10, 1, 12, 34, 56);
  eq(fromLocal(toLocal(t)), t);
  eq(fromLocal(""), null);
  eq(fromLocal("garbage"), null);
});

// ---- the graph

test("graph: a live diff changes colours and adds in place; nothing drawn moves", async () => {
  const el = document.getElementById("graph");
  const g = new GraphView(el, { onSelect() {}, onGroup() {}, onHover() {} });
  g.show([c(1), c(2, { layer: "Machines", type: "host" })], [{ id: 10, source: 1, target: 2, type: "runs_on" }]);
  const before = g.drawn();
  const a = new Answer();
  a.reset({ components: [c(1), c(2, { layer: "Machines", type: "host" })], relations: [] }, "1");
  g.apply(a.apply({ from: "1", seq: "2", added: { components: [c(3, { healthState: "DEVIATING" })], relations: [] }, removed: { components: [], relations: [] },
    changed: { components: [{ id: 1, fields: ["healthState"], values: { healthState: "CRITICAL" } }], relations: [] } }));
  const after = g.drawn();
  for (const n of before.nodes) {
    const m = after.nodes.find((x) => x.id === n.id);
    eq([m.x, m.y], [n.x, n.y], "position of " + n.id);
  }
  eq(after.nodes.length, 3);
  const col = (id) => after.nodes.find((x) => x.id === id).colour.replace(/\s/g, "");
  const rgb = (hex) => `rgb(${parseInt(hex.slice(1, 3), 16)},${parseInt(hex.slice(3, 5), 16)},${parseInt(hex.slice(5, 7), 16)})`;
  eq(col("1"), rgb(healthColour("CRITICAL")));
  eq(col("3"), rgb(healthColour("DEVIATING")));
  g.destroy();
});

test("graph: past the limit, groups by layer and type", () => {
  const el = document.getElementById("graph");
  const g = new GraphView(el, { onSelect() {}, onGroup() {}, onHover() {} }, { graphLimit: 5 });
  const many = [];
  for (let i = 1; i <= 20; i++) many.push(c(i, { type: i % 2 ? "service" : "db", layer: i % 2 ? "Services" : "Databases", healthState: i === 4 ? "CRITICAL" : "CLEAR" }));
  g.show(many, [{ id: 100, source: 1, target: 2, type: "uses" }, { id: 101, source: 3, target: 4, type: "uses" }]);
  const d = g.drawn();
  eq(d.mode, "grouped");
  eq(d.nodes.map((n) => n.label).sort(), ["db\n×10", "service\n×10"]);
  eq(d.edges.length, 1);
  g.destroy();
});

// ---- the live client, against a scripted server

class FakeSocket {
  static all = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.all.push(this);
    setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 1);
  }
  send(s) { this.sent.push(JSON.parse(s)); }
  close(code) { this.readyState = 3; }
  server(m) { this.onmessage?.({ data: JSON.stringify(m) }); }
  drop(code, reason = "") { this.readyState = 3; this.onclose?.({ code, reason }); }
}
FakeSocket.OPEN = 1;

function liveClient(key = "") {
  const got = { results: [], diffs: [], errors: [], status: [] };
  const l = new Live({
    onResult: (m) => got.results.push(m),
    onDiff: (m) => { if (m.bad) throw new Error("does not apply"); got.diffs.push(m); },
    onError: (e) => got.errors.push(e),
    onStatus: (s) => got.status.push(s),
  }, () => key, "ws://test/api/subscribe");
  return { l, got };
}

async function withFakeSockets(f) {
  const real = globalThis.WebSocket;
  globalThis.WebSocket = FakeSocket;
  FakeSocket.all = [];
  try { await f(); } finally { globalThis.WebSocket = real; }
}

test("live: subscribes, takes the result, applies diffs in order", () => withFakeSockets(async () => {
  const { l, got } = liveClient();
  l.subscribe(`type = "service"`);
  await until(() => FakeSocket.all[0]?.sent.length === 1, "the subscribe message");
  const ws = FakeSocket.all[0];
  eq(ws.protocols, undefined, "subprotocols without a key");
  eq(ws.sent[0], { type: "subscribe", id: "s1", query: `type = "service"` });
  ws.server({ type: "result", id: "s1", seq: "100", result: { schemaVersion: 1, topology: { components: [], relations: [] } } });
  ws.server({ type: "diff", id: "s1", from: "100", seq: "200", added: { components: [], relations: [] } });
  ws.server({ type: "diff", id: "s9", from: "200", seq: "300" }); // another subscription's
  eq(got.results.length, 1);
  eq(got.diffs.map((d) => d.seq), ["200"]);
  eq(l.seq, "200");
  eq(got.status.at(-1), "live");
  l.stop();
}));

test("live: a key goes as a subprotocol; a gap in seq asks for the answer again", () => withFakeSockets(async () => {
  const { l, got } = liveClient("tetra_abc_def");
  l.subscribe("q");
  await until(() => FakeSocket.all[0]?.sent.length === 1, "the subscribe message");
  const ws = FakeSocket.all[0];
  eq(ws.protocols, [protocol, keyProtocol + "tetra_abc_def"]);
  ws.server({ type: "result", id: "s1", seq: "100", result: {} });
  ws.server({ type: "diff", id: "s1", from: "150", seq: "200" });
  eq(got.diffs.length, 0);
  eq(ws.sent.slice(1), [{ type: "unsubscribe", id: "s1" }, { type: "subscribe", id: "s2", query: "q" }]);
  // A diff the page cannot apply also asks again.
  ws.server({ type: "result", id: "s2", seq: "300", result: {} });
  ws.server({ type: "diff", id: "s2", from: "300", seq: "400", bad: true });
  eq(ws.sent.at(-1), { type: "subscribe", id: "s3", query: "q" });
  l.stop();
}));

test("live: a lost connection reconnects and resumes from seq; a refused key does not retry", () => withFakeSockets(async () => {
  const { l, got } = liveClient();
  l.subscribe("q");
  await until(() => FakeSocket.all[0]?.sent.length === 1, "the subscribe message");
  FakeSocket.all[0].server({ type: "result", id: "s1", seq: "100", result: {} });
  FakeSocket.all[0].drop(1006);
  eq(got.status.at(-1), "reconnecting");
  await until(() => FakeSocket.all[1]?.sent.length === 1, "the resumed subscription", 2000);
  eq(FakeSocket.all[1].sent[0], { type: "subscribe", id: "s2", query: "q", seq: "100" });
  FakeSocket.all[1].server({ type: "error", id: "s2", error: { class: "query", message: "bad" } });
  eq(got.errors.map((e) => e.class), ["query"]);
  FakeSocket.all[1].drop(1008, "unknown or revoked API key");
  eq(got.status.at(-1), "failed");
  await sleep(400);
  eq(FakeSocket.all.length, 2, "sockets after a refused key");
  l.stop();
}));

// ---- the details' data

test("details: a series' name, tags and values, missing values skipped", () => {
  const s = { labels: { name: "http.server.duration", host: "node-2", service: "checkout" }, points: [[1, 80.5], [2, null], [3, 240], [4, 79.25], [5, null]] };
  eq(seriesSummary(s), { name: "http.server.duration", tags: "host:node-2, service:checkout", last: 79.25, min: 79.25, max: 240 });
  eq(seriesSummary({ labels: { name: "x" }, points: [[1, null]] }), { name: "x", tags: "", last: null, min: null, max: null });
  eq(seriesSummary({ labels: { name: "y", env: ["a", "b"] }, points: [] }).tags, "env:a,b");
});

test("details: numbers in three digits, large ones with a unit", () => {
  eq([0, 0.000123456, 3.14159, 79.25, 999, 1000, 41234, 4013427546, -2500000, 7.2e13].map(short),
    ["0", "0.000123", "3.14", "79.3", "999", "1k", "41.2k", "4.01G", "-2.5M", "72T"]);
});

test("details: a chart skips missing values and needs two points", () => {
  eq(spark([[1, 5]]).querySelector("path"), null);
  const d = spark([[0, 1], [5, null], [10, 3]]).querySelector("path").getAttribute("d");
  eq(d, "M0.00,28.00L100.00,2.00");
});

// ---- run

const results = [];
for (const t of tests) {
  try {
    await t.f();
    results.push({ name: t.name, ok: true });
  } catch (e) {
    results.push({ name: t.name, ok: false, error: String(e && e.stack || e) });
  }
}
document.getElementById("out").textContent = results.map((r) => (r.ok ? "ok   " : "FAIL ") + r.name + (r.error ? "\n     " + r.error : "")).join("\n");
window.unitResults = results;
