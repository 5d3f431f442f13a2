// Package automation runs stored scripts on their own: monitors, event
// handlers and scheduled scripts (docs/automations.md is the user's
// reference).
//
//   - A monitor runs on an interval and returns health states
//     ({component: identifier, state, message}); they replace the states of
//     its own health stream (MonitorStream), through the runtime's Sink, so
//     they enter the health model exactly as ingested check states do.
//   - A handler runs when the health state of a component matching its
//     filter changes (the graph's change feed) or when an event matches its
//     filter (EVENTS polled through the engine); the change or the event is
//     the script's `event` variable. It may write (Health.set,
//     Events.emit), call an allow-listed webhook (Http), or just return.
//   - A scheduled script runs on a cron expression (robfig/cron's parser,
//     in UTC).
//
// Definitions (YAML or JSON, Decode) and the record of every run (Run:
// time, duration, trigger, result or typed error, what it wrote; the
// newest KeepRuns of each) are kept in a Pebble database of their own
// (Store; DATA/automations, drawn in docs/storage-format.md).
//
// Data flows: Store → Manager (one state per automation) ← triggers
// (timers, the change feed, the event poller) → work (one run at a time
// per automation, within MaxConcurrent slots) → scriptrt.Runtime.Run with
// the automation's timeout, memory budget and scope → Sink → Run record.
// A failing automation backs off (doubling pauses); a slow one skips its
// ticks; a flood of triggers fills a bounded queue and is counted as
// dropped. Nothing that triggers a run ever waits for it.
//
// The REST routes (api/scriptapi) and tetra automation are the surfaces.
package automation
