// The live subscription over WebSocket (GET /api/subscribe, the protocol
// of docs/websocket.md): one query at a time. It keeps the answer's seq,
// and after a dropped connection reconnects and resumes from it, so the
// server sends one diff for what was missed (or a full result, saying why).
//
// A browser cannot set headers on a WebSocket: the API key is offered as
// the subprotocol "tetra.key.<key>" beside the protocol's own name, which
// the server selects (docs/api.md).

export const protocol = "tetra.live.v1";
export const keyProtocol = "tetra.key.";

export class Live {
  /**
   * @param {object} h handlers: onResult(msg), onDiff(msg, arrivedAt), onError(error), onStatus(state, detail)
   * @param {() => string} key the API key ("" for none)
   */
  constructor(h, key, url = defaultURL()) {
    this.h = h;
    this.key = key;
    this.url = url;
    this.ws = null;
    this.query = null;
    this.seq = null;
    this.n = 0;          // subscription ids: s1, s2, …
    this.id = null;
    this.retry = 0;
    this.timer = null;
    this.closed = true;
  }

  /** Subscribes to a query, replacing the current subscription. */
  subscribe(query) {
    this.closed = false;
    this.query = query;
    this.seq = null;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.send();
    else this.connect();
  }

  /** Ends the subscription and the connection. */
  stop() {
    this.closed = true;
    this.query = null;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.h.onStatus("stopped");
  }

  connect() {
    clearTimeout(this.timer);
    if (this.ws) { this.ws.onclose = null; this.ws.close(1000); }
    const key = this.key();
    // Offer subprotocols only with a key: a server that speaks the
    // protocol without naming it accepts a plain connection.
    const ws = key ? new WebSocket(this.url, [protocol, keyProtocol + key]) : new WebSocket(this.url);
    this.ws = ws;
    this.h.onStatus("connecting");
    ws.onopen = () => { this.retry = 0; this.send(); };
    ws.onmessage = (ev) => this.receive(ev.data, performance.now());
    ws.onclose = (ev) => this.closedBy(ev);
  }

  send() {
    if (this.id) this.ws.send(JSON.stringify({ type: "unsubscribe", id: this.id }));
    this.id = "s" + ++this.n;
    const m = { type: "subscribe", id: this.id, query: this.query };
    if (this.seq !== null) m.seq = this.seq; // resume
    this.ws.send(JSON.stringify(m));
  }

  receive(data, arrivedAt) {
    let m;
    try { m = JSON.parse(data); } catch { return this.h.onError({ class: "protocol", message: "the server sent a message that is not JSON" }); }
    if (m.id && m.id !== this.id) return; // a subscription this page has left
    switch (m.type) {
      case "result":
        this.seq = m.seq;
        this.h.onStatus(m.final ? "final" : "live");
        this.h.onResult(m, arrivedAt);
        break;
      case "diff":
        if (m.from !== this.seq) { this.resync(); return; }
        try {
          this.h.onDiff(m, arrivedAt);
          this.seq = m.seq;
        } catch (e) {
          console.warn("tetra: a diff did not apply; subscribing again", e);
          this.resync();
        }
        break;
      case "error":
        this.id = null;
        this.h.onError(m.error || { class: "internal", message: "the subscription ended" });
        break;
    }
  }

  // resync asks for a full answer again.
  resync() {
    this.seq = null;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.send();
  }

  closedBy(ev) {
    this.ws = null;
    this.id = null;
    if (this.closed) return;
    // 1008: the key was refused; 4400-4599 and 1011: the server will not
    // serve this; everything else (going away, too slow, no pong, a lost
    // network) is worth a reconnect that resumes from seq.
    const fatal = ev.code === 1008 || ev.code === 1003 || (ev.code >= 4400 && ev.code < 4600 && ev.code !== 4429 && ev.code !== 4503);
    if (fatal) {
      this.h.onStatus("failed", `${ev.code} ${ev.reason || "closed"}`);
      return;
    }
    const delay = Math.min(10000, 250 * 2 ** this.retry++) * (0.75 + Math.random() / 2);
    this.h.onStatus("reconnecting", ev.reason || (ev.code === 1006 ? "connection lost" : String(ev.code)));
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

function defaultURL() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/subscribe";
}
