// Health states and their colours: the graph's canvas cannot read CSS, so
// the colours live here, and app.css repeats them for the HTML parts.

export const healthColours = {
  CLEAR: "#2e9e5b",
  DEVIATING: "#e8a317",
  CRITICAL: "#d93b3b",
  UNKNOWN: "#9aa3b2",
};

/** The colour of a health state; anything unknown is UNKNOWN's grey. */
export function healthColour(state) {
  return healthColours[String(state || "").toUpperCase()] || healthColours.UNKNOWN;
}
