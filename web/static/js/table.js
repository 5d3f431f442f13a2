// The table view of the same answer: sortable, filterable, a page at a
// time (a 10,000-row answer renders 200 rows, never a frozen tab). Rows
// are focusable; Enter or a click opens the component's details.

const pageSize = 200;

const columns = [
  { key: "name", title: "Name" },
  { key: "type", title: "Type" },
  { key: "layer", title: "Layer" },
  { key: "domain", title: "Domain" },
  { key: "healthState", title: "Health" },
  { key: "labels", title: "Labels", value: (c) => (c.labels || []).join(", ") },
  { key: "id", title: "Id" },
];

export class TableView {
  /** @param {HTMLElement} el @param {{onSelect(id: number): void}} h */
  constructor(el, h) {
    this.el = el;
    this.h = h;
    this.rows = [];
    this.sort = { key: "name", dir: 1 };
    this.filter = "";
    this.page = 0;
    this.changes = false;
  }

  /** Shows components (each may carry .change); filter is an optional {layer, type}. */
  show(components, { changes = false, where = null } = {}) {
    this.rows = components;
    this.changes = changes;
    this.page = 0;
    if (where) this.filter = `${where.type}`;
    this.dirty = true;
    if (!this.el.hidden) this.render();
  }

  /** Renders what changed while the table was hidden; called when it is shown. */
  reveal() {
    if (this.dirty) this.render();
  }

  visible() {
    const f = this.filter.trim().toLowerCase();
    const col = columns.find((c) => c.key === this.sort.key);
    const val = (c) => String(col.value ? col.value(c) : c[col.key] ?? "");
    let rows = f ? this.rows.filter((c) => [c.name, c.type, c.layer, c.domain, c.healthState, ...(c.labels || [])].some((v) => String(v ?? "").toLowerCase().includes(f))) : this.rows;
    return [...rows].sort((a, b) => this.sort.dir * (col.key === "id" ? a.id - b.id : val(a).localeCompare(val(b))));
  }

  render() {
    this.dirty = false;
    const rows = this.visible();
    const pages = Math.max(1, Math.ceil(rows.length / pageSize));
    this.page = Math.min(this.page, pages - 1);
    const shown = rows.slice(this.page * pageSize, (this.page + 1) * pageSize);
    this.el.replaceChildren(this.tools(rows.length, pages), this.table(shown));
  }

  tools(n, pages) {
    const bar = h("div", { class: "table-tools" });
    const input = h("input", { type: "search", placeholder: "Filter rows", "aria-label": "Filter rows", value: this.filter });
    input.addEventListener("input", () => { this.filter = input.value; this.page = 0; this.render(); this.el.querySelector("input[type=search]").focus(); });
    const prev = h("button", { type: "button", "aria-label": "Previous page" }, "‹");
    const next = h("button", { type: "button", "aria-label": "Next page" }, "›");
    prev.disabled = this.page === 0;
    next.disabled = this.page >= pages - 1;
    prev.addEventListener("click", () => { this.page--; this.render(); });
    next.addEventListener("click", () => { this.page++; this.render(); });
    bar.append(input, h("span", {}, `${n} components · page ${this.page + 1} of ${pages}`), prev, next);
    return bar;
  }

  table(rows) {
    const cols = this.changes ? [{ key: "change", title: "Change" }, ...columns] : columns;
    const head = h("tr", {}, ...cols.map((c) => {
      const b = h("button", { type: "button" }, c.title + (this.sort.key === c.key ? (this.sort.dir > 0 ? " ▲" : " ▼") : ""));
      b.addEventListener("click", () => { this.sort = { key: c.key, dir: this.sort.key === c.key ? -this.sort.dir : 1 }; this.render(); });
      return h("th", { scope: "col", "aria-sort": this.sort.key === c.key ? (this.sort.dir > 0 ? "ascending" : "descending") : "none" }, b);
    }));
    const body = h("tbody", {}, ...rows.map((c) => this.row(c, cols)));
    return h("table", { class: "result" }, h("thead", {}, head), body);
  }

  row(c, cols) {
    const tr = h("tr", { tabindex: "0", "data-id": String(c.id) }, ...cols.map((col) => {
      if (col.key === "healthState") return h("td", {}, h("span", { class: "health " + (c.healthState || "UNKNOWN") }, c.healthState || "UNKNOWN"));
      if (col.key === "change") return h("td", {}, h("span", { class: "change " + c.change }, c.change));
      const v = col.value ? col.value(c) : c[col.key];
      return h("td", col.key === "labels" ? { class: "labels", title: v } : {}, String(v ?? ""));
    }));
    const open = () => this.h.onSelect(c.id);
    tr.addEventListener("click", open);
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter") open();
      else if (e.key === "ArrowDown") tr.nextElementSibling?.focus();
      else if (e.key === "ArrowUp") tr.previousElementSibling?.focus();
      else return;
      e.preventDefault();
    });
    return tr;
  }
}

/** h builds an element: attributes, then children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "value") el.value = v;
    else el.setAttribute(k, v);
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}
