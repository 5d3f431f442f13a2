// Swim lanes by layer: the layered view of StackState, business at the top
// and machines at the bottom. Positions are computed here (O(n + e) per
// sweep) rather than by a general layered layout: the lanes are fixed by
// the layer, a general layout would fight them, and a 1,000-component
// answer must lay out in a few milliseconds. Within a lane, components are
// ordered by the barycentre of their neighbours in other lanes, which
// keeps related components above each other and edges short.

/**
 * The lane order, top to bottom. Names compare case-insensitively; the
 * aliases are spellings integrations use for the same layer.
 */
export const laneOrder = [
  ["Business Processes"],
  ["Business Services"],
  ["Applications", "Application"],
  ["Services", "Service"],
  ["Serverless"],
  ["Messaging", "Queues"],
  ["Containers", "Pods", "Container"],
  ["Processes", "Process"],
  ["Databases", "Database"],
  ["Storage"],
  // Layers this table does not know, and components without a layer
  // (Uncategorized, as StackState names it), come here: below what runs
  // and above the infrastructure it runs on.
  null,
  ["Namespaces", "Namespace"],
  ["Networking", "Network", "Load Balancers"],
  ["Machines", "Hosts", "Nodes", "Virtual Machines"],
  ["Clusters", "Cluster"],
  ["Regions", "Data Centers", "Availability Zones", "Locations"],
];

export const uncategorized = "Uncategorized";

const rankOf = new Map();
let unknownRank = 0;
laneOrder.forEach((names, i) => {
  if (names === null) unknownRank = i;
  else for (const n of names) rankOf.set(n.toLowerCase(), i);
});

/** The name of a component's lane: its layer, or Uncategorized. */
export function laneName(layer) {
  return layer && layer.trim() ? layer : uncategorized;
}

/**
 * Compares two lane names: by rank, then unknown layers by name, with
 * Uncategorized last among them.
 */
export function compareLanes(a, b) {
  const ra = rankOf.get(a.toLowerCase()) ?? unknownRank, rb = rankOf.get(b.toLowerCase()) ?? unknownRank;
  if (ra !== rb) return ra - rb;
  if (a === uncategorized || b === uncategorized) return (a === uncategorized) - (b === uncategorized);
  return a.localeCompare(b);
}

export const defaults = { nodeGap: 120, rowGap: 86, lanePad: 34, laneGap: 14, labelWidth: 150, maxPerRow: 0 };

/**
 * LaneLayout places components in lanes and keeps their places: a full
 * layout for a new answer, then additions at the end of their lane's last
 * row, so that live changes never move what is already drawn (only a new
 * lane moves the lanes below it down, all by the same distance).
 */
export class LaneLayout {
  constructor(options = {}) {
    this.o = { ...defaults, ...options };
    this.lanes = [];          // [{name, top, height, rows: [[id…]…]}] in order
    this.pos = new Map();     // id → {x, y}
    this.laneOf = new Map();  // id → lane
    this.width = 0;
  }

  /** Lays out a whole answer. components: [{id, layer, name, type}], relations: [{source, target}]. */
  full(components, relations) {
    this.lanes = [];
    this.pos.clear();
    this.laneOf.clear();
    const byLane = new Map();
    for (const c of components) {
      const name = laneName(c.layer);
      if (!byLane.has(name)) byLane.set(name, []);
      byLane.get(name).push(c);
    }
    const names = [...byLane.keys()].sort(compareLanes);
    const perRow = this.o.maxPerRow || Math.max(8, Math.ceil(Math.sqrt(components.length) * 1.6));
    const order = orderWithinLanes(names.map((n) => byLane.get(n)), relations);
    this.width = 0;
    for (let i = 0; i < names.length; i++) {
      const ids = order[i];
      const rows = [];
      for (let j = 0; j < ids.length; j += perRow) rows.push(ids.slice(j, j + perRow));
      this.lanes.push({ name: names[i], top: 0, height: 0, rows });
      this.width = Math.max(this.width, Math.min(ids.length, perRow) * this.o.nodeGap);
    }
    this.place();
    return this.pos;
  }

  /** Places a component added to the answer; returns its position. Only a new lane moves others. */
  add(c) {
    if (this.pos.has(c.id)) return this.pos.get(c.id);
    const name = laneName(c.layer);
    let lane = this.lanes.find((l) => l.name === name);
    if (!lane) {
      lane = { name, top: 0, height: 0, rows: [[]] };
      const at = this.lanes.findIndex((l) => compareLanes(name, l.name) < 0);
      this.lanes.splice(at < 0 ? this.lanes.length : at, 0, lane);
      lane.rows[0].push(c.id);
      this.place();
      return this.pos.get(c.id);
    }
    const row = lane.rows[lane.rows.length - 1];
    row.push(c.id);
    this.laneOf.set(c.id, lane);
    const p = this.slot(lane, lane.rows.length - 1, row.length - 1);
    this.pos.set(c.id, p);
    this.width = Math.max(this.width, p.x + this.o.nodeGap / 2);
    return p;
  }

  /** Forgets a component that left the answer; its place stays empty. */
  remove(id) {
    const lane = this.laneOf.get(id);
    if (!lane) return;
    for (const row of lane.rows) {
      const i = row.indexOf(id);
      if (i >= 0) row[i] = null; // keep the others where they are
    }
    this.pos.delete(id);
    this.laneOf.delete(id);
  }

  /** Computes every lane's band and every component's position. */
  place() {
    let top = 0;
    for (const lane of this.lanes) {
      lane.top = top;
      lane.height = this.o.lanePad * 2 + Math.max(0, lane.rows.length - 1) * this.o.rowGap;
      lane.rows.forEach((row, r) => row.forEach((id, k) => {
        if (id === null) return;
        this.pos.set(id, this.slot(lane, r, k));
        this.laneOf.set(id, lane);
      }));
      top += lane.height + this.o.laneGap;
    }
  }

  slot(lane, row, k) {
    return { x: this.o.labelWidth + this.o.nodeGap / 2 + k * this.o.nodeGap, y: lane.top + this.o.lanePad + row * this.o.rowGap };
  }

  /** The lane bands, for drawing: [{name, top, height, count}]. */
  bands() {
    return this.lanes.map((l) => ({ name: l.name, top: l.top, height: l.height, count: l.rows.flat().filter((x) => x !== null).length }));
  }
}

/**
 * Orders each lane's components: first by type and name, then by a few
 * barycentre sweeps down and up the lanes (each component moves towards
 * the mean place of its neighbours in the lanes already ordered).
 */
export function orderWithinLanes(lanes, relations) {
  const laneIdx = new Map(), place = new Map();
  const order = lanes.map((cs, i) => {
    const sorted = [...cs].sort((a, b) => (a.type || "").localeCompare(b.type || "") || (a.name || "").localeCompare(b.name || "") || a.id - b.id);
    sorted.forEach((c, k) => { laneIdx.set(c.id, i); place.set(c.id, k / Math.max(1, sorted.length)); });
    return sorted.map((c) => c.id);
  });
  const nbrs = new Map();
  for (const r of relations) {
    const a = laneIdx.get(r.source), b = laneIdx.get(r.target);
    if (a === undefined || b === undefined || a === b) continue;
    (nbrs.get(r.source) || nbrs.set(r.source, []).get(r.source)).push(r.target);
    (nbrs.get(r.target) || nbrs.set(r.target, []).get(r.target)).push(r.source);
  }
  const sweep = (i, from) => {
    const key = new Map();
    for (const id of order[i]) {
      const ns = (nbrs.get(id) || []).filter((n) => from(laneIdx.get(n)));
      key.set(id, ns.length ? ns.reduce((s, n) => s + place.get(n), 0) / ns.length : place.get(id));
    }
    order[i].sort((a, b) => key.get(a) - key.get(b)); // stable: ties keep type and name order
    order[i].forEach((id, k) => place.set(id, k / Math.max(1, order[i].length)));
  };
  for (let pass = 0; pass < 4; pass++) {
    for (let i = 1; i < order.length; i++) sweep(i, (l) => l < i);
    for (let i = order.length - 2; i >= 0; i--) sweep(i, (l) => l > i);
  }
  return order;
}
