// The time bar: live (now, with updates), at a time (the slider and the
// date field run the query AT it), or the changes between two times. The
// slider spans the history the server keeps (GET /api/timeline); its
// right end is now, which is live. Times are shown in the browser's zone
// and sent to the server as UTC ISO-8601.

const steps = 10000;
const week = 7 * 24 * 3600 * 1000;

export class TimeBar {
  /** @param {{onChange(): void}} h */
  constructor(h) {
    this.h = h;
    this.slider = document.getElementById("time-slider");
    this.at = document.getElementById("time-at");
    this.from = document.getElementById("time-from");
    this.to = document.getElementById("time-to");
    this.skew = 0; // server clock − browser clock
    this.min = Date.now() - week;
    this.timer = null;
    this.slider.max = String(steps);
    this.slider.value = String(steps);
    for (const r of this.radios()) r.addEventListener("change", () => this.modeChanged());
    this.slider.addEventListener("input", () => this.slid());
    this.slider.addEventListener("change", () => this.fire(0));
    this.at.addEventListener("change", () => this.typed());
    this.from.addEventListener("change", () => this.fire(0));
    this.to.addEventListener("change", () => this.fire(0));
    this.show();
  }

  /** Sets the span from GET /api/timeline ({horizon?, lastCommit?, now}). */
  setTimeline(tl) {
    const now = Date.parse(tl.now);
    this.skew = now - Date.now();
    const horizon = tl.horizon ? Date.parse(tl.horizon) : NaN;
    // A store that keeps everything has no horizon: a week back, or back
    // to before the latest change when that is older.
    this.min = Number.isFinite(horizon) && horizon < now ? horizon : Math.min(now - week, (tl.lastCommit ? Date.parse(tl.lastCommit) : now) - 3600e3);
    this.show();
  }

  now() { return Date.now() + this.skew; }
  radios() { return [...document.querySelectorAll('input[name="mode"]')]; }
  mode() { return this.radios().find((r) => r.checked).value; }
  setMode(m) {
    this.radios().forEach((r) => { r.checked = r.value === m; });
    if (m === "live") this.at.value = ""; // live is now, not a time
    this.show();
  }

  /** The chosen time: {mode, at, from, to}, times as UTC ISO-8601 strings. */
  value() {
    const m = this.mode();
    return { mode: m, at: m === "at" ? iso(fromLocal(this.at.value) ?? this.now()) : "",
      from: iso(fromLocal(this.from.value) ?? this.now() - 3600e3), to: iso(fromLocal(this.to.value) ?? this.now()) };
  }

  /** Moves to a time (ms since 1970) in "at" mode; the right end of the slider is live. */
  goTo(t) {
    this.setMode("at");
    this.at.value = toLocal(t);
    this.show();
    this.fire(0);
  }

  slid() {
    const v = Number(this.slider.value);
    const t = this.min + (this.now() - this.min) * v / steps;
    if (this.mode() === "changes") this.from.value = toLocal(t);
    else if (v >= steps) this.setMode("live");
    else { this.at.value = toLocal(t); if (this.mode() !== "at") this.setMode("at"); }
    this.fire(250);
  }

  typed() {
    if (this.mode() !== "at") this.setMode("at");
    this.show();
    this.fire(0);
  }

  modeChanged() {
    const m = this.mode();
    if (m === "at" && !this.at.value) this.at.value = toLocal(this.now() - 3600e3);
    if (m === "changes") {
      if (!this.from.value) this.from.value = toLocal(fromLocal(this.at.value) ?? this.now() - 3600e3);
      if (!this.to.value) this.to.value = toLocal(this.now());
    }
    this.show();
    this.fire(0);
  }

  // show puts the slider where the chosen time is and shows the fields of the mode.
  show() {
    const m = this.mode();
    document.getElementById("time-from-field").hidden = m !== "changes";
    document.getElementById("time-to-field").hidden = m !== "changes";
    this.at.parentElement.hidden = m === "changes";
    const t = m === "at" ? fromLocal(this.at.value) : m === "changes" ? fromLocal(this.from.value) : null;
    const span = this.now() - this.min;
    this.slider.value = String(t === null ? steps : Math.max(0, Math.min(steps, Math.round((t - this.min) / span * steps))));
    this.slider.setAttribute("aria-valuetext", m === "live" ? "now (live)" : new Date(t ?? this.now()).toString());
  }

  fire(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.h.onChange(), delay);
  }
}

/** toLocal formats ms since 1970 for a datetime-local input (the browser's zone, to the second). */
export function toLocal(t) {
  const d = new Date(t);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getFullYear(), 4)}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** fromLocal reads a datetime-local value; null when empty or invalid. */
export function fromLocal(v) {
  if (!v) return null;
  const t = new Date(v).getTime(); // no zone in the text: the browser's local time
  return Number.isFinite(t) ? t : null;
}

function iso(t) {
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
}
