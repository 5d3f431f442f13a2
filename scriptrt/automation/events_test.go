package automation_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/scriptrt"
	"github.com/tetrahq/tetra/scriptrt/automation"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/telpebble"
)

// TestEventHandler: a handler with an event trigger runs once for each new
// event its filter matches, within its scope, with the event as the
// script's `event`, reading it through the engine's EVENTS from a real
// event store; an event it has seen, or one before it was applied, does
// not run it again.
func TestEventHandler(t *testing.T) {
	f := newFixture(t, automation.Config{})
	f.close() // reopened below over an engine with an event store
	tel, err := telpebble.Open(t.TempDir(), telpebble.Options{NoSync: true, BlockCacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tel.Close() })
	f.eng = exec.New(f.graph, exec.Options{Data: exec.DataStores{Metrics: tel, Events: tel}})
	if f.rt, err = scriptrt.New(scriptrt.Config{Engine: f.eng}); err != nil {
		t.Fatal(err)
	}
	// The manager's clock stands still, so the poller's cursor starts at
	// now whenever its first poll comes.
	now := time.Now().Truncate(time.Millisecond)
	appendEvents := func(evs ...telemetry.Event) {
		t.Helper()
		for i := range evs {
			evs[i].ID = telemetry.EventID(&evs[i])
		}
		if err := tel.AppendEvents(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
	}
	// Before the handler exists: never its cause.
	appendEvents(telemetry.Event{Time: now.Add(-time.Hour).UnixMilli(), Name: "old alert", Category: "Alerts",
		Identifiers: []string{"urn:db:/orders"}})
	f.open(t, automation.Config{EventPoll: 20 * time.Millisecond, Now: func() time.Time { return now }})
	f.apply(t, `
name: on-alert
kind: handler
trigger:
  event:
    filter: category = "Alerts"
script: |
  [trigger, event.name, event.identifiers[0]]
`)
	t0 := now
	alert := telemetry.Event{Time: t0.UnixMilli(), Name: "orders-db: connections high", Category: "Alerts",
		Identifiers: []string{"urn:db:/orders"}}
	appendEvents(alert, telemetry.Event{Time: t0.UnixMilli(), Name: "puppet run", Category: "Changes"})
	waitFor(t, "the handler's run", func() bool { r, _ := f.m.Runs("on-alert", 0); return len(r) == 1 })
	// The same event again (same id) and some polls: no second run.
	appendEvents(alert)
	time.Sleep(200 * time.Millisecond)
	runs, _ := f.m.Runs("on-alert", 0)
	if len(runs) != 1 {
		t.Fatalf("%d runs, want 1", len(runs))
	}
	r := runs[0]
	if r.Trigger != "event" || r.Outcome != "ok" || string(r.Result.Value) != `["event","orders-db: connections high","urn:db:/orders"]` {
		t.Errorf("run: %+v %s %+v", r, r.Result.Value, r.Error)
	}
	var cause exec.Event
	if err := json.Unmarshal(r.Cause, &cause); err != nil || cause.Category != "Alerts" || cause.Timestamp != t0.UnixMilli() {
		t.Errorf("cause: %s", r.Cause)
	}
}
