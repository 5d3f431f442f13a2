// The graph view: Cytoscape.js draws the answer in swim lanes by layer
// (lanes.js places the components), coloured by health state. Live diffs
// are applied in place: new components take free places in their lanes,
// nothing that is drawn moves. Answers larger than the graph limit are
// drawn as groups (one node per layer and type) so that the tab never
// freezes; the table holds every component.

import cytoscape from "../vendor/cytoscape-3.35.0/cytoscape.esm.min.mjs";
import { LaneLayout, laneName, compareLanes } from "./lanes.js";
import { healthColour, healthColours } from "./health.js";

/** More components than this are drawn as groups. */
export const defaultGraphLimit = 2500;

/** With more relations than this, edges are drawn the cheapest way. */
const manyEdges = 600;

const style = [
  { selector: "node.component", style: {
    "background-color": "data(colour)", width: 30, height: 30, "border-width": 2, "border-color": "#ffffff",
    label: "data(label)", "text-valign": "bottom", "text-margin-y": 4, "font-size": 10, "text-wrap": "wrap",
    "text-max-width": 116, color: "#1d2330", "min-zoomed-font-size": 6, "z-index": 10 } },
  // A group is a pie of its members' health states.
  { selector: "node.group", style: {
    "background-color": "#ffffff", width: "data(size)", height: "data(size)", "border-width": 1, "border-color": "#c5cbd6",
    "pie-size": "100%", "pie-1-background-color": healthColours.CRITICAL, "pie-1-background-size": "data(critical)",
    "pie-2-background-color": healthColours.DEVIATING, "pie-2-background-size": "data(deviating)",
    "pie-3-background-color": healthColours.CLEAR, "pie-3-background-size": "data(clear)",
    "pie-4-background-color": healthColours.UNKNOWN, "pie-4-background-size": "data(unknown)",
    label: "data(label)", "text-valign": "bottom", "text-margin-y": 4, "font-size": 11, "text-wrap": "wrap", "z-index": 10 } },
  { selector: "node.lane", style: {
    shape: "rectangle", width: "data(w)", height: "data(h)", "background-color": "data(fill)", "background-opacity": 1,
    "border-width": 0, label: "data(label)", "text-valign": "center", "text-halign": "center", "text-margin-x": "data(shift)",
    "text-max-width": 140, "text-wrap": "wrap", "font-size": 12, "font-weight": 600, color: "#5b6474", events: "no", "z-index": 0,
    "z-compound-depth": "bottom" } },
  { selector: "edge", style: {
    width: 1.4, "line-color": "#a9b1bf", "target-arrow-color": "#a9b1bf", "target-arrow-shape": "triangle",
    "arrow-scale": 0.8, "curve-style": "bezier", "z-index": 5 } },
  // Many edges are drawn as haystacks, the cheapest edges Cytoscape draws
  // (straight, no arrows; the type and direction are in the tooltip and
  // the details).
  { selector: "edge.many", style: { "curve-style": "haystack", "haystack-radius": 0 } },
  { selector: "edge.both", style: { "source-arrow-shape": "triangle", "source-arrow-color": "#a9b1bf" } },
  { selector: "edge.grouped", style: { width: "data(width)" } },
  { selector: "edge.hover, edge:selected", style: { "line-color": "#2f6fed", "target-arrow-color": "#2f6fed", "source-arrow-color": "#2f6fed", width: 2.5 } },
  { selector: "node:selected", style: { "border-color": "#2f6fed", "border-width": 4 } },
  { selector: "node.focus", style: { "overlay-color": "#ff9f1a", "overlay-opacity": 0.25, "overlay-padding": 6 } },
  { selector: "node.added", style: { "border-color": "#2e9e5b", "border-width": 4 } },
  { selector: "node.changed", style: { "border-color": "#e8a317", "border-width": 4, "border-style": "double" } },
  { selector: "node.removed", style: { opacity: 0.5, "border-color": "#d93b3b", "border-width": 3, "border-style": "dashed" } },
  { selector: "edge.added", style: { "line-color": "#2e9e5b", "target-arrow-color": "#2e9e5b" } },
  { selector: "edge.removed", style: { "line-style": "dashed", opacity: 0.5 } },
];

const laneFills = ["#f3f6fb", "#fafbfd"];

export class GraphView {
  /**
   * @param {HTMLElement} el the container
   * @param {object} h handlers: onSelect(id), onGroup({layer, type}), onHover(text, x, y)
   */
  constructor(el, h, options = {}) {
    this.el = el;
    this.h = h;
    this.limit = options.graphLimit || defaultGraphLimit;
    this.layout = new LaneLayout();
    this.mode = "empty"; // empty, full, grouped
    this.cy = cytoscape({
      container: el, style, minZoom: 0.05, maxZoom: 3, boxSelectionEnabled: false,
      autoungrabify: true,
    });
    this.cy.on("tap", "node.component", (e) => this.h.onSelect(Number(e.target.id())));
    this.cy.on("tap", "node.group", (e) => this.h.onGroup(e.target.data("group")));
    this.cy.on("mouseover", "edge", (e) => { e.target.addClass("hover"); this.hover(e, e.target.data("title")); });
    this.cy.on("mouseover", "node.component, node.group", (e) => this.hover(e, e.target.data("title")));
    this.cy.on("mouseout", "edge", (e) => { e.target.removeClass("hover"); this.h.onHover(null); });
    this.cy.on("mouseout", "node", () => this.h.onHover(null));
    el.addEventListener("keydown", (e) => this.key(e));
    // The container changes size with the window and the details panel:
    // keep the drawing fitted until the user pans or zooms it.
    this.touched = false;
    this.cy.on("pan zoom", (e) => { if (!this.fitting) this.touched = true; });
    this.resized = new ResizeObserver(() => { this.cy.resize(); if (!this.touched) this.fit(); });
    this.resized.observe(el);
  }

  /** Ends the view: stops watching the container and frees the graph. */
  destroy() {
    this.resized.disconnect();
    this.cy.destroy();
  }

  hover(e, text) {
    const p = e.renderedPosition || e.target.renderedMidpoint?.() || e.target.renderedPosition();
    this.h.onHover(text, p.x, p.y);
  }

  /** Draws a whole answer ({components, relations}); elements may carry .change. */
  show(components, relations) {
    this.components = new Map(components.map((c) => [c.id, c]));
    this.relations = new Map(relations.map((r) => [r.id, r]));
    this.cy.batch(() => {
      this.cy.elements().remove();
      if (components.length > this.limit) this.drawGroups(components, relations);
      else this.drawFull(components, relations);
    });
    this.cy.resize();
    this.touched = false;
    this.fit();
  }

  drawFull(components, relations) {
    this.mode = "full";
    this.layout.full(components, relations);
    this.many = relations.length > manyEdges;
    this.cy.add(this.laneElements());
    this.cy.add(components.map((c) => this.nodeOf(c)));
    this.cy.add(relations.filter((r) => this.components.has(r.source) && this.components.has(r.target)).map((r) => this.edgeOf(r)));
  }

  nodeOf(c) {
    return { group: "nodes", classes: "component" + (c.change ? " " + c.change : ""), position: { ...this.layout.pos.get(c.id) },
      data: { id: String(c.id), name: c.name, label: short(c.name) + "\n" + (c.type || ""), colour: healthColour(c.healthState),
        title: `${c.name} · ${c.type} · ${c.healthState || "UNKNOWN"}${c.change ? " · " + c.change : ""}` } };
  }

  edgeOf(r) {
    return { group: "edges", classes: (r.dependencyDirection === "BOTH" ? "both" : "") + (r.change ? " " + r.change : "") + (this.many ? " many" : ""),
      data: { id: "r" + r.id, source: String(r.source), target: String(r.target),
        title: `${r.type}${r.dependencyDirection === "BOTH" ? " (both ways)" : ""}${r.change ? " · " + r.change : ""}` } };
  }

  laneElements() {
    const { left, width: w } = this.laneBox();
    return this.layout.bands().map((b, i) => ({
      group: "nodes", classes: "lane", selectable: false, grabbable: false, position: { x: left + w / 2, y: b.top + b.height / 2 },
      data: { id: "lane:" + b.name, label: b.name, w, h: b.height, fill: laneFills[i % 2], shift: -w / 2 + 90 },
    }));
  }

  /** Redraws the lane bands after a lane was added or the lanes widened. */
  redrawLanes() {
    this.cy.remove("node.lane");
    this.cy.add(this.laneElements());
  }

  /**
   * Applies a live diff in place (see model.js for its shape). Positions
   * of what is drawn do not change, unless a component of a layer not yet
   * shown arrives: then the lanes below it move down together.
   */
  apply(d) {
    for (const c of d.removed.components) this.components.delete(c.id);
    for (const r of d.removed.relations) this.relations.delete(r.id);
    for (const c of d.added.components) this.components.set(c.id, c);
    for (const c of d.changed.components) this.components.set(c.id, c);
    for (const r of d.added.relations) this.relations.set(r.id, r);
    for (const r of d.changed.relations) this.relations.set(r.id, r);
    if (this.mode !== "full" || this.components.size > this.limit) {
      this.show([...this.components.values()], [...this.relations.values()]);
      return;
    }
    this.cy.batch(() => {
      for (const r of d.removed.relations) this.cy.getElementById("r" + r.id).remove();
      for (const c of d.removed.components) { this.cy.getElementById(String(c.id)).remove(); this.layout.remove(c.id); }
      const lanes = this.layout.lanes.length, width = this.layout.width;
      for (const c of d.changed.components) this.change(c);
      for (const c of d.added.components) this.layout.add(c);
      if (this.layout.lanes.length !== lanes) {
        this.layout.place();
        this.cy.nodes("node.component").forEach((n) => n.position({ ...this.layout.pos.get(Number(n.id())) }));
      }
      if (this.layout.lanes.length !== lanes || this.layout.width !== width) this.redrawLanes();
      this.cy.add(d.added.components.map((c) => this.nodeOf(c)));
      for (const r of [...d.added.relations, ...d.changed.relations]) {
        this.cy.getElementById("r" + r.id).remove();
        if (this.components.has(r.source) && this.components.has(r.target)) this.cy.add(this.edgeOf(r));
      }
    });
  }

  // change updates a component in place: colour, label; a new layer moves
  // it to its new lane.
  change(c) {
    const n = this.cy.getElementById(String(c.id));
    if (!n.nonempty()) return;
    if ((c.fields || []).includes("layer")) {
      this.layout.remove(c.id);
      this.layout.add(c);
      n.position({ ...this.layout.pos.get(c.id) });
    }
    n.data(this.nodeOf(c).data);
  }

  drawGroups(components, relations) {
    this.mode = "grouped";
    const groups = new Map(), of = new Map();
    for (const c of components) {
      const layer = laneName(c.layer), k = layer + "\u0000" + c.type;
      let g = groups.get(k);
      if (!g) groups.set(k, g = { id: "g" + groups.size, layer, type: c.type, n: 0, health: { CRITICAL: 0, DEVIATING: 0, CLEAR: 0, UNKNOWN: 0 } });
      g.n++;
      const h = (c.healthState || "UNKNOWN").toUpperCase();
      g.health[h in g.health ? h : "UNKNOWN"]++;
      of.set(c.id, g);
    }
    const gs = [...groups.values()];
    this.layout.full(gs.map((g) => ({ id: g.id, layer: g.layer, type: g.type, name: g.type })), []);
    const links = new Map();
    for (const r of relations) {
      const a = of.get(r.source), b = of.get(r.target);
      if (!a || !b || a === b) continue;
      const k = a.id + ">" + b.id + ">" + r.type;
      const l = links.get(k) || links.set(k, { a, b, type: r.type, n: 0 }).get(k);
      l.n++;
    }
    this.cy.add(this.laneElements());
    const pct = (g, h) => (100 * g.health[h]) / g.n;
    this.cy.add(gs.map((g) => ({ group: "nodes", classes: "group", position: { ...this.layout.pos.get(g.id) },
      data: { id: g.id, label: `${g.type}\n×${g.n}`, size: Math.min(48, 26 + 3 * Math.log2(g.n)),
        critical: pct(g, "CRITICAL"), deviating: pct(g, "DEVIATING"), clear: pct(g, "CLEAR"), unknown: pct(g, "UNKNOWN"),
        group: { layer: g.layer, type: g.type },
        title: `${g.n} ${g.type} in ${g.layer}: ${Object.entries(g.health).filter(([, n]) => n).map(([h, n]) => `${n} ${h.toLowerCase()}`).join(", ")}; click for the table` } })));
    this.cy.add([...links.values()].map((l, i) => ({ group: "edges", classes: "grouped",
      data: { id: "l" + i, source: l.a.id, target: l.b.id, width: Math.min(8, 1 + Math.log2(l.n)), title: `${l.n} ${l.type}` } })));
  }

  // fit shows the whole drawing. The extent comes from the lanes, which
  // hold every node: Cytoscape's own fit measures every element and label,
  // which costs more than drawing a large answer.
  fit() {
    const bands = this.layout.bands();
    if (!bands.length) return;
    const { left, width } = this.laneBox(), last = bands[bands.length - 1];
    const height = last.top + last.height + 24; // the labels under the last row
    const pad = 16, cw = this.el.clientWidth, ch = this.el.clientHeight;
    const zoom = Math.max(this.cy.minZoom(), Math.min(1.2, (cw - 2 * pad) / width, (ch - 2 * pad) / height));
    this.fitting = true;
    this.cy.viewport({ zoom, pan: { x: (cw - width * zoom) / 2 - left * zoom, y: (ch - height * zoom) / 2 } });
    this.fitting = false;
  }

  // laneBox is the horizontal extent of the lane bands.
  laneBox() {
    const width = this.layout.width + this.layout.o.labelWidth + 40;
    return { left: -20, width };
  }

  select(id) {
    this.cy.$(":selected").unselect();
    const n = this.cy.getElementById(String(id));
    if (n.nonempty()) {
      n.select();
      this.focused = n;
    }
  }

  // key moves the keyboard focus between components with the arrows,
  // opens details with Enter, and zooms with + - 0.
  key(e) {
    const zoom = (f) => this.cy.zoom({ level: this.cy.zoom() * f, renderedPosition: { x: this.el.clientWidth / 2, y: this.el.clientHeight / 2 } });
    const dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (e.key === "+" || e.key === "=") zoom(1.25);
    else if (e.key === "-") zoom(0.8);
    else if (e.key === "0") this.fit();
    else if (e.key === "Enter" && this.focused?.nonempty()) this.focused.emit("tap");
    else if (dirs[e.key]) this.moveFocus(...dirs[e.key]);
    else return;
    e.preventDefault();
  }

  moveFocus(dx, dy) {
    const nodes = this.cy.nodes("node.component, node.group");
    if (nodes.empty()) return;
    const from = this.focused?.inside() ? this.focused : null;
    let best = null, bestD = Infinity;
    if (!from) best = nodes.min((n) => n.position("y") * 10000 + n.position("x")).ele;
    else {
      const p = from.position();
      nodes.forEach((n) => {
        if (n === from) return;
        const q = n.position(), vx = q.x - p.x, vy = q.y - p.y;
        const along = vx * dx + vy * dy, across = Math.abs(vx * dy - vy * dx);
        if (along <= 0) return;
        const d = along + 2 * across;
        if (d < bestD) { bestD = d; best = n; }
      });
    }
    if (!best) return;
    this.cy.$(".focus").removeClass("focus");
    best.addClass("focus");
    this.focused = best;
    const p = best.renderedPosition();
    if (p.x < 0 || p.y < 0 || p.x > this.el.clientWidth || p.y > this.el.clientHeight) this.cy.center(best);
    this.h.onHover(best.data("title"), best.renderedPosition().x, best.renderedPosition().y);
  }

  /**
   * Resolves once Cytoscape has drawn the current elements to its canvas
   * (its next render event), or after two frames when there is nothing
   * new to draw.
   */
  rendered() {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => { if (!done) { done = true; resolve(); } };
      this.cy.one("render", finish);
      requestAnimationFrame(() => requestAnimationFrame(() => requestAnimationFrame(finish)));
    });
  }

  /** How many components or groups are drawn. */
  count() {
    return this.mode === "full" ? this.components.size : this.cy.nodes("node.group").length;
  }

  /** What is drawn, for tests: mode and components with their colours and places. */
  drawn() {
    const box = this.el.getBoundingClientRect();
    return {
      mode: this.mode,
      lanes: this.cy.nodes("node.lane").map((n) => n.data("label")),
      nodes: this.cy.nodes("node.component, node.group").map((n) => ({
        id: n.id(), name: n.data("name") ?? n.data("label"), label: n.data("label"), colour: n.style("background-color"), x: n.position("x"), y: n.position("y"),
        pageX: box.left + n.renderedPosition("x"), pageY: box.top + n.renderedPosition("y"),
        classes: n.classes().filter((c) => c !== "component"),
      })),
      edges: this.cy.edges().map((e) => ({ id: e.id(), source: e.source().id(), target: e.target().id(), title: e.data("title") })),
    };
  }
}

/** A name short enough for a node's label; the tooltip has it whole. */
export function short(name, max = 20) {
  name = String(name ?? "");
  return name.length > max ? name.slice(0, max - 1) + "…" : name;
}

export { compareLanes };
