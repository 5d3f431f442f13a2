// The query bar: completion of keys, functions, keywords and the values
// components carry (GET /api/values, honouring the key's scope), the
// caret error of a wrong query under the input, and the last queries.

import { h } from "./table.js";

const historyItem = "tetra.history";
const historySize = 25;

/**
 * The completion context at the caret: {kind: "word", prefix, from} for a
 * key, function or keyword being typed; {kind: "value", key, prefix, from,
 * quoted} for a value after `key =`, `key !=` or `key IN (`.
 */
export function context(text, caret, vocab) {
  const before = text.slice(0, caret);
  const toks = lex(before);
  const last = toks[toks.length - 1];
  if (last && last.kind === "string" && !last.closed) {
    const key = keyBefore(toks, toks.length - 1, vocab);
    return key ? { kind: "value", key, prefix: last.value, from: last.start, quoted: true } : null;
  }
  if (last && last.kind === "ident" && last.end === caret) {
    const key = keyBefore(toks, toks.length - 1, vocab);
    if (key) return { kind: "value", key, prefix: last.text, from: last.start, quoted: false };
    return { kind: "word", prefix: last.text, from: last.start };
  }
  if (!last || /\s$/.test(before) || last.kind === "punct") {
    const key = keyBefore(toks, toks.length, vocab);
    if (key) return { kind: "value", key, prefix: "", from: caret, quoted: false };
    return { kind: "word", prefix: "", from: caret };
  }
  return null;
}

// keyBefore returns the topology key whose value starts at token i: after
// `key =`, `key !=`, `key IN (` or a comma inside such a list.
function keyBefore(toks, i, vocab) {
  let j = i - 1;
  if (toks[j]?.text === "=" || toks[j]?.text === "!=") j--;
  else {
    while (j >= 0 && (toks[j].text === "," || toks[j].kind === "string" || toks[j].kind === "ident" && toks[j + 1]?.text === ",")) j--;
    if (toks[j]?.text !== "(" || toks[j - 1]?.text?.toUpperCase() !== "IN") return null;
    j -= 2;
  }
  const k = toks[j];
  return k && k.kind === "ident" ? vocab?.keyAliases?.[k.text.toLowerCase()] || null : null;
}

/** lex splits TQL text into the tokens completion needs (strings may be open at the end). */
export function lex(s) {
  const out = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === "'") {
      let j = i + 1, v = "";
      while (j < s.length && s[j] !== c) {
        if (s[j] === "\\" && j + 1 < s.length) j++;
        v += s[j++];
      }
      out.push({ kind: "string", start: i, end: Math.min(j + 1, s.length), value: v, closed: j < s.length, text: s.slice(i, j + 1) });
      i = j + 1;
      continue;
    }
    const m = /^[A-Za-z_][\w.-]*/.exec(s.slice(i)) || /^(!=|<=|>=|[=<>(),])/.exec(s.slice(i));
    if (m) {
      out.push({ kind: /^[A-Za-z_]/.test(m[0]) ? "ident" : "punct", start: i, end: i + m[0].length, text: m[0] });
      i += m[0].length;
    } else i++;
  }
  return out;
}

/** quote writes a value as a TQL string literal. */
export function quote(v) {
  return '"' + String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}

/**
 * caretError renders an API error of a query as the CLI does: the message,
 * the offending line with a caret under the span, and the hint. Returns
 * {text, from, to} with from/to the span in the text's UTF-16 units, for
 * selecting it in the input.
 */
export function caretError(src, e) {
  if (!e.line) return { text: e.message + (e.hint ? "\nhint: " + e.hint : ""), from: null, to: null };
  const bytes = new TextEncoder().encode(src);
  const dec = new TextDecoder();
  const from = dec.decode(bytes.slice(0, e.offset || 0)).length;
  const span = dec.decode(bytes.slice(e.offset || 0, (e.offset || 0) + (e.length || 0)));
  const line = src.split("\n")[e.line - 1] ?? "";
  const restOfLine = [...line].length - (e.col - 1);
  const width = Math.max(1, Math.min([...span.split("\n")[0]].length, restOfLine));
  let text = `${e.line}:${e.col}: ${e.message}\n  ${line}\n  ${" ".repeat(Math.max(0, e.col - 1))}${"^".repeat(width)}`;
  if (e.hint) text += `\nhint: ${e.hint}`;
  for (const m of e.more || []) text += `\n${m.line}:${m.col}: ${m.message}`;
  return { text, from, to: from + span.length };
}

export class QueryBar {
  /**
   * @param {object} h handlers: onRun(query), values(key, prefix) → Promise<string[]>
   */
  constructor(h) {
    this.h = h;
    this.input = document.getElementById("query");
    this.list = document.getElementById("completions");
    this.error = document.getElementById("query-error");
    this.historyEl = document.getElementById("history");
    this.vocab = null;
    this.items = [];
    this.active = -1;
    this.ctx = null;
    this.walk = -1;
    this.seq = 0;
    this.input.addEventListener("input", () => { this.walk = -1; this.complete(false); });
    this.input.addEventListener("keydown", (e) => this.key(e));
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    document.getElementById("query-form").addEventListener("submit", (e) => { e.preventDefault(); this.run(); });
    this.historyEl.addEventListener("change", () => {
      if (!this.historyEl.value) return;
      this.input.value = this.historyEl.value;
      this.historyEl.value = "";
      this.run();
    });
    this.renderHistory();
  }

  get value() { return this.input.value; }
  set value(q) { this.input.value = q; }

  run() {
    this.close();
    const q = this.input.value.trim();
    if (q) this.h.onRun(q);
  }

  key(e) {
    const open = !this.list.hidden;
    if (open && (e.key === "ArrowDown" || e.key === "ArrowUp")) {
      this.move(e.key === "ArrowDown" ? 1 : -1);
    } else if (open && (e.key === "Tab" || e.key === "Enter" && !e.ctrlKey && !e.metaKey) && this.active >= 0) {
      this.accept(this.items[this.active]);
    } else if (open && e.key === "Escape") {
      this.close();
    } else if (e.key === " " && e.ctrlKey) {
      this.complete(true);
    } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      this.run();
    } else if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
      this.walkHistory(e.key === "ArrowUp" ? 1 : -1);
    } else return;
    e.preventDefault();
  }

  async complete(force) {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const ctx = context(this.input.value, caret, this.vocab);
    const seq = ++this.seq;
    if (!ctx || (!force && ctx.kind === "word" && ctx.prefix.length === 0)) return this.close();
    let items;
    if (ctx.kind === "value") {
      let vals = [];
      try { vals = await this.h.values(ctx.key, ctx.prefix); } catch { /* completion is best effort */ }
      if (seq !== this.seq) return; // typed on meanwhile
      items = vals.map((v) => ({ text: v, kind: ctx.key }));
    } else items = this.words(ctx.prefix);
    this.ctx = ctx;
    this.show(items.slice(0, 50));
  }

  words(prefix) {
    const v = this.vocab;
    if (!v) return [];
    const p = prefix.toLowerCase();
    const all = [
      ...v.topologyKeys.map((t) => ({ text: t, kind: "key" })),
      ...v.functions.map((t) => ({ text: t, kind: "function" })),
      ...v.arguments.map((t) => ({ text: t, kind: "argument" })),
      ...["AND", "OR", "NOT", "IN", "AT", "CHANGES", "FROM", "TO"].map((t) => ({ text: t, kind: "keyword" })),
    ];
    const seen = new Set();
    return all.filter((w) => w.text.toLowerCase().startsWith(p) && w.text.toLowerCase() !== p && !seen.has(w.text) && seen.add(w.text));
  }

  show(items) {
    this.items = items;
    this.active = items.length ? 0 : -1;
    this.list.replaceChildren(...items.map((it, i) => {
      const li = h("li", { role: "option", id: "completion-" + i, "aria-selected": String(i === this.active) }, h("span", {}, it.text), h("span", { class: "kind" }, it.kind));
      li.addEventListener("mousedown", (e) => { e.preventDefault(); this.accept(it); });
      return li;
    }));
    this.list.hidden = items.length === 0;
    this.input.setAttribute("aria-expanded", String(!this.list.hidden));
    this.input.setAttribute("aria-activedescendant", this.active >= 0 ? "completion-0" : "");
  }

  move(d) {
    if (!this.items.length) return;
    this.active = (this.active + d + this.items.length) % this.items.length;
    [...this.list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === this.active)));
    this.list.children[this.active].scrollIntoView({ block: "nearest" });
    this.input.setAttribute("aria-activedescendant", "completion-" + this.active);
  }

  accept(it) {
    const ctx = this.ctx, s = this.input.value, caret = this.input.selectionStart ?? s.length;
    let ins = it.text;
    let to = caret;
    if (ctx.kind === "value") {
      ins = quote(it.text);
      if (ctx.quoted && s[caret] === '"') to++; // the closing quote is there already
    } else if (it.kind === "key") ins += " = ";
    else if (it.kind === "function") ins += "(";
    else if (it.kind === "argument") ins += " = ";
    else ins += " ";
    this.input.value = s.slice(0, ctx.from) + ins + s.slice(to);
    const at = ctx.from + ins.length;
    this.input.setSelectionRange(at, at);
    this.close();
    if (it.kind === "key") this.complete(true); // go on with its values
  }

  close() {
    this.list.hidden = true;
    this.items = [];
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  /** Shows a query's error under the input, with a caret under the span, and selects the span. */
  showError(src, e) {
    if (!e) {
      this.error.hidden = true;
      this.error.textContent = "";
      this.input.removeAttribute("aria-invalid");
      return;
    }
    const r = caretError(src, e);
    this.error.textContent = r.text;
    this.error.hidden = false;
    this.input.setAttribute("aria-invalid", "true");
    if (r.from !== null && document.activeElement === this.input) this.input.setSelectionRange(r.from, r.to);
  }

  history() {
    try { return JSON.parse(localStorage.getItem(historyItem) || "[]"); } catch { return []; }
  }

  remember(q) {
    const l = [q, ...this.history().filter((x) => x !== q)].slice(0, historySize);
    localStorage.setItem(historyItem, JSON.stringify(l));
    this.renderHistory();
  }

  renderHistory() {
    const first = this.historyEl.options[0];
    this.historyEl.replaceChildren(first, ...this.history().map((q) => h("option", { value: q }, q.length > 80 ? q.slice(0, 79) + "…" : q)));
  }

  walkHistory(d) {
    const l = this.history();
    if (!l.length) return;
    this.walk = Math.max(-1, Math.min(l.length - 1, this.walk + d));
    this.input.value = this.walk < 0 ? "" : l[this.walk];
  }
}
