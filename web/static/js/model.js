// The answer the page shows, and the live protocol's diffs applied to it
// (docs/websocket.md): components and relations by id, and the sequence
// number the answer is exact at.

export class Answer {
  constructor() {
    this.components = new Map();
    this.relations = new Map();
    this.seq = null;
    this.evaluatedAt = null;
  }

  /** Replaces the answer with a full result ({components, relations, evaluatedAt}). */
  reset(result, seq = null) {
    this.components = new Map((result.components || []).map((c) => [c.id, c]));
    this.relations = new Map((result.relations || []).map((r) => [r.id, r]));
    this.evaluatedAt = result.evaluatedAt || null;
    this.seq = seq;
  }

  /**
   * Applies a diff message; returns what changed for the views to redraw:
   * {added: {components, relations}, removed: {components, relations} (the
   * elements as they were), changed: {components, relations} (new versions,
   * with the changed field names in .fields)}. A diff whose from is not
   * the answer's seq cannot apply: it throws, and the caller resubscribes.
   */
  apply(msg) {
    if (this.seq !== null && msg.from !== this.seq) {
      throw new Error(`a diff from ${msg.from} does not apply to the answer at ${this.seq}`);
    }
    const out = { added: { components: [], relations: [] }, removed: { components: [], relations: [] }, changed: { components: [], relations: [] } };
    const a = msg.added || {}, rm = msg.removed || {}, ch = msg.changed || {};
    for (const id of rm.relations || []) take(this.relations, id, out.removed.relations);
    for (const id of rm.components || []) take(this.components, id, out.removed.components);
    for (const c of a.components || []) { this.components.set(c.id, c); out.added.components.push(c); }
    for (const r of a.relations || []) { this.relations.set(r.id, r); out.added.relations.push(r); }
    for (const c of ch.components || []) out.changed.components.push(patch(this.components, c));
    for (const r of ch.relations || []) out.changed.relations.push(patch(this.relations, r));
    this.seq = msg.seq;
    return out;
  }
}

function take(map, id, into) {
  const el = map.get(id);
  if (el) { map.delete(id); into.push(el); }
}

// patch sets the changed fields of an element to their new values. The
// element objects are replaced, not mutated: views may hold the old one.
function patch(map, change) {
  const old = map.get(change.id);
  if (!old) throw new Error(`a change of ${change.id}, which the answer does not hold`);
  const el = { ...old };
  for (const f of change.fields || []) {
    const v = change.values ? change.values[f] : undefined;
    if (v === null || v === undefined) delete el[f];
    else el[f] = v;
  }
  el.fields = change.fields || [];
  map.set(change.id, el);
  return el;
}

/**
 * The elements of a CHANGES result as one graph: every added, removed and
 * changed element once, marked with .change (added, removed, changed).
 */
export function changesAsGraph(ch) {
  const comps = new Map(), rels = new Map();
  const mark = (m, el, change, fields) => m.set(el.id, { ...el, change, fields });
  for (const c of ch.removed?.components || []) mark(comps, c, "removed");
  for (const c of ch.added?.components || []) mark(comps, c, "added");
  for (const c of ch.changed?.components || []) mark(comps, c.after, "changed", c.fields);
  for (const r of ch.removed?.relations || []) mark(rels, r, "removed");
  for (const r of ch.added?.relations || []) mark(rels, r, "added");
  for (const r of ch.changed?.relations || []) mark(rels, r.after, "changed", r.fields);
  return { components: [...comps.values()], relations: [...rels.values()] };
}

/**
 * diffAnswers returns, in the shape Answer.apply returns, what turns the
 * shown answer into a full result: used when the live subscription's first
 * result arrives after the same query's REST answer was drawn, so that the
 * graph changes in place instead of being drawn again.
 */
export function diffAnswers(answer, result) {
  const out = { added: { components: [], relations: [] }, removed: { components: [], relations: [] }, changed: { components: [], relations: [] } };
  const cmp = (old, list, part) => {
    const seen = new Set();
    for (const el of list || []) {
      seen.add(el.id);
      const was = old.get(el.id);
      if (!was) out.added[part].push(el);
      else if (!sameElement(was, el)) out.changed[part].push({ ...el, fields: changedFields(was, el) });
    }
    for (const [id, el] of old) if (!seen.has(id)) out.removed[part].push(el);
  };
  cmp(answer.components, result.components, "components");
  cmp(answer.relations, result.relations, "relations");
  return out;
}

function sameElement(a, b) {
  return changedFields(a, b).length === 0;
}

function changedFields(a, b) {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  keys.delete("fields");
  keys.delete("change");
  return [...keys].filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}
