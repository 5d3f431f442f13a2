// The REST client of the page: every call carries the API key (X-API-Key)
// when one is set; a 401 asks the user for a key and retries once.

const keyItem = "tetra.apiKey";

/** An error answer of the API: {class, message, line, col, offset, length, hint}. */
export class APIError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    Object.assign(this, body || {});
  }
}

export class API {
  /** @param {(reason: string) => Promise<string>} askKey shows the key dialog and resolves with a key. */
  constructor(askKey, storage = sessionStorage) {
    this.askKey = askKey;
    this.storage = storage;
  }

  get key() { return this.storage.getItem(keyItem) || ""; }
  set key(k) { k ? this.storage.setItem(keyItem, k) : this.storage.removeItem(keyItem); }

  async request(method, path, body, signal) {
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (this.key) headers["X-API-Key"] = this.key;
      const resp = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await resp.text();
      let doc = null;
      try { doc = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
      if (resp.ok) return doc;
      const err = new APIError(resp.status, doc?.error || { class: "http", message: text.slice(0, 200) || resp.statusText });
      if (resp.status === 401 && attempt < 3) {
        this.key = await this.askKey(this.key ? "The key was refused: " + err.message : "This server needs an API key (role read or above).");
        continue;
      }
      throw err;
    }
  }

  query(query, { at, maxElements, signal } = {}) {
    const body = { query };
    if (at) body.at = at;
    if (maxElements) body.maxElements = maxElements;
    return this.request("POST", "/api/query", body, signal);
  }
  /** health answers GET /api/components/{id}/health: the checks and degraded dependencies behind a component's health. */
  health(id, at) {
    return this.request("GET", `/api/components/${encodeURIComponent(id)}/health` + (at ? "?" + new URLSearchParams({ topologyTime: at }) : ""));
  }
  whoami() { return this.request("GET", "/api/whoami"); }
  vocabulary() { return this.request("GET", "/api/vocabulary"); }
  timeline() { return this.request("GET", "/api/timeline"); }
  values(key, prefix, at) {
    const q = new URLSearchParams({ key, prefix, limit: "50" });
    if (at) q.set("at", at);
    return this.request("GET", "/api/values?" + q);
  }
}
