package automation_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/scriptrt"
	"github.com/tetrahq/tetra/scriptrt/automation"
)

// recorder is a Sink that keeps what automations wrote.
type recorder struct {
	mu     sync.Mutex
	health []scriptrt.HealthWrite
	events []scriptrt.Event
}

func (r *recorder) SetHealth(_ context.Context, w scriptrt.HealthWrite) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.health = append(r.health, w)
	return nil
}

func (r *recorder) EmitEvents(_ context.Context, evs []scriptrt.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	return nil
}

func (r *recorder) writes() []scriptrt.HealthWrite {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]scriptrt.HealthWrite(nil), r.health...)
}

type fixture struct {
	graph *pebblestore.Store
	eng   *exec.Engine
	rt    *scriptrt.Runtime
	dir   string
	store *automation.Store
	m     *automation.Manager
	sink  *recorder
	// subscribed is closed once the manager follows the change feed.
	subscribed chan struct{}
}

// newFixture makes a graph of two services (checkout calls orders-db) and
// a manager over a store in a temporary directory.
func newFixture(t *testing.T, cfg automation.Config) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), sink: &recorder{}}
	g, err := pebblestore.Open(t.TempDir(), pebblestore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	f.graph = g
	f.put(t, graphstore.HealthClear)
	f.eng = exec.New(g, exec.Options{})
	if f.rt, err = scriptrt.New(scriptrt.Config{Engine: f.eng}); err != nil {
		t.Fatal(err)
	}
	f.open(t, cfg)
	return f
}

// put writes the two components, orders-db with the given health.
func (f *fixture) put(t *testing.T, h graphstore.HealthState) {
	t.Helper()
	var b graphstore.Batch
	b.PutComponent("test", "checkout", graphstore.ComponentData{Name: "checkout", Type: "service", Identifiers: []string{"urn:service:/checkout"}})
	b.PutComponent("test", "orders-db", graphstore.ComponentData{Name: "orders-db", Type: "database", Identifiers: []string{"urn:db:/orders"}, Health: h})
	b.PutRelation("test", "checkout->orders-db", graphstore.RelationData{Type: "uses", SourceRef: "checkout", TargetRef: "orders-db"})
	if _, err := f.graph.Apply(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) open(t *testing.T, cfg automation.Config) {
	t.Helper()
	st, err := automation.OpenStore(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Runtime, cfg.Engine, cfg.Sink = st, f.rt, f.eng, f.sink
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.subscribed = make(chan struct{})
	var once sync.Once
	cfg.Feed = func() (graphstore.Feed, error) {
		defer once.Do(func() { close(f.subscribed) })
		return f.graph.Subscribe(f.graph.LastCommit())
	}
	m, err := automation.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	f.store, f.m = st, m
	t.Cleanup(f.close)
}

func (f *fixture) close() {
	if f.m != nil {
		f.m.Close()
		f.store.Close()
		f.m = nil
	}
}

func (f *fixture) apply(t *testing.T, yaml string) *automation.Definition {
	t.Helper()
	defs, err := automation.Decode(strings.NewReader(yaml))
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.m.Apply(defs[0])
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // generous: CI shares two cores
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const latencyMonitor = `
name: orders-latency
kind: monitor
interval: 1h
script: |
  Topology.query('type = "database"').components().then(dbs => dbs.map(db => ({
    component: db.identifiers.find(i => i.startsWith("urn:")),
    state: "CRITICAL",
    message: db.name + " answers slowly",
  })))
`

// TestMonitorRunsAndRecords: a monitor's states replace its stream, and
// every run is recorded, newest first, at most KeepRuns.
func TestMonitorRunsAndRecords(t *testing.T) {
	f := newFixture(t, automation.Config{KeepRuns: 3})
	f.apply(t, latencyMonitor)
	// It runs once at once (its interval is an hour).
	waitFor(t, "the first run", func() bool { return len(f.sink.writes()) == 1 })
	w := f.sink.writes()[0]
	if w.Stream != "urn:tetra:monitor:orders-latency" || !w.Snapshot || len(w.States) != 1 ||
		w.States[0] != (scriptrt.HealthState{Component: "urn:db:/orders", State: "CRITICAL", Message: "orders-db answers slowly", Name: "orders-latency", CheckID: "urn:db:/orders"}) {
		t.Errorf("monitor write: %+v", w)
	}
	for range 4 {
		r, err := f.m.RunNow(context.Background(), "orders-latency", nil)
		if err != nil || r.Outcome != "ok" || r.HealthStates != 1 || r.Trigger != "manual" {
			t.Fatalf("run now: %+v %v", r, err)
		}
	}
	runs, err := f.m.Runs("orders-latency", 0)
	if err != nil || len(runs) != 3 || runs[0].ID != 5 || runs[2].ID != 3 {
		t.Fatalf("runs kept: %d %v", len(runs), err)
	}
	if string(runs[0].Result.Value) != `[{"component":"urn:db:/orders","state":"CRITICAL","message":"orders-db answers slowly"}]` {
		t.Errorf("recorded result: %s", runs[0].Result.Value)
	}
	// A monitor that returns something else fails, with a clear error, and
	// writes nothing.
	f.apply(t, "name: bad\nkind: monitor\ninterval: 1h\nscript: '42'\n")
	r, err := f.m.RunNow(context.Background(), "bad", nil)
	if err != nil || r.Outcome != "error" || !strings.Contains(r.Error.Message, "a monitor returns its health states") {
		t.Errorf("bad monitor: %+v %v", r, err)
	}
}

// TestTimers: a monitor runs on its interval and a scheduled script on its
// cron schedule, on their own.
func TestTimers(t *testing.T) {
	f := newFixture(t, automation.Config{})
	f.apply(t, "name: tick\nkind: monitor\ninterval: 1s\nscript: '[]'\n")
	f.apply(t, "name: report\nkind: scheduled\nschedule: '@every 1s'\nscript: 'Topology.query(\"name = \\\"*\\\"\").components().length'\n")
	waitFor(t, "three ticks and two reports", func() bool {
		a, _ := f.m.Runs("tick", 0)
		b, _ := f.m.Runs("report", 0)
		return len(a) >= 3 && len(b) >= 2
	})
	runs, _ := f.m.Runs("report", 1)
	if runs[0].Trigger != "schedule" || string(runs[0].Result.Value) != "2" {
		t.Errorf("report run: %+v", runs[0])
	}
	st := f.m.Get("tick", "")
	if st == nil || st.NextRun.IsZero() || st.LastRun == nil || st.Failures != 0 {
		t.Errorf("status: %+v", st)
	}
}

// TestHealthHandler: a handler fires when a component matching its filter
// changes health, with the change as its event, and can write.
func TestHealthHandler(t *testing.T) {
	f := newFixture(t, automation.Config{})
	f.apply(t, `
name: page-dba
kind: handler
trigger:
  health:
    filter: type = "database"
    states: [CRITICAL]
script: |
  Events.emit({name: "page", message: event.component.name + " went " + event.after, components: event.component.identifiers});
  [trigger, event.before, event.after]
`)
	<-f.subscribed
	f.put(t, graphstore.HealthCritical)
	waitFor(t, "the handler's run", func() bool { r, _ := f.m.Runs("page-dba", 0); return len(r) == 1 })
	runs, _ := f.m.Runs("page-dba", 0)
	if runs[0].Outcome != "ok" || string(runs[0].Result.Value) != `["health","CLEAR","CRITICAL"]` || runs[0].Events != 1 {
		t.Fatalf("handler run: %+v %+v", runs[0], runs[0].Error)
	}
	var cause automation.HealthChange
	if err := json.Unmarshal(runs[0].Cause, &cause); err != nil || cause.Component.Name != "orders-db" {
		t.Errorf("cause: %s", runs[0].Cause)
	}
	f.sink.mu.Lock()
	if len(f.sink.events) != 1 || f.sink.events[0].Message != "orders-db went CRITICAL" || f.sink.events[0].Source != "automation:page-dba" {
		t.Errorf("events: %+v", f.sink.events)
	}
	f.sink.mu.Unlock()
	// Back to CLEAR: not a state it asked for.
	f.put(t, graphstore.HealthClear)
	time.Sleep(300 * time.Millisecond)
	if r, _ := f.m.Runs("page-dba", 0); len(r) != 1 {
		t.Errorf("fired for CLEAR: %d runs", len(r))
	}
}

// TestPersistence: definitions and run records survive a restart, and the
// automations run again after it.
func TestPersistence(t *testing.T) {
	f := newFixture(t, automation.Config{})
	d := f.apply(t, latencyMonitor)
	waitFor(t, "a run", func() bool { r, _ := f.m.Runs("orders-latency", 0); return len(r) == 1 })
	f.close()
	f.sink.health = nil
	f.open(t, automation.Config{})
	st := f.m.Get("orders-latency", "")
	if st == nil || st.Script != d.Script || !st.Created.Equal(d.Created) {
		t.Fatalf("after a restart: %+v", st)
	}
	waitFor(t, "a run after the restart", func() bool { r, _ := f.m.Runs("orders-latency", 0); return len(r) == 2 })
	if len(f.sink.writes()) != 1 {
		t.Errorf("writes after the restart: %d", len(f.sink.writes()))
	}
	if ok, err := f.m.Delete("orders-latency"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if r, _ := f.m.Runs("orders-latency", 0); len(r) != 0 {
		t.Errorf("runs of a deleted automation: %d", len(r))
	}
}

// TestHostileAutomationsAreIsolated: an infinite loop, a huge allocation
// and a crash loop each fail with their own error and back off, while a
// healthy monitor keeps running and queries keep answering.
func TestHostileAutomationsAreIsolated(t *testing.T) {
	f := newFixture(t, automation.Config{MaxConcurrent: 4, Backoff: 200 * time.Millisecond, MaxBackoff: time.Second})
	f.apply(t, "name: spin\nkind: monitor\ninterval: 1s\ntimeout: 300ms\nscript: 'while (true) {}'\n")
	f.apply(t, "name: hog\nkind: monitor\ninterval: 1s\nmaxMemoryMB: 32\nscript: |\n  var a = []; while (true) { a.push('x'.repeat(1 << 20) + a.length) }\n")
	f.apply(t, "name: crash\nkind: scheduled\nschedule: '@every 1s'\nscript: 'throw new Error(\"boom\")'\n")
	f.apply(t, "name: healthy\nkind: monitor\ninterval: 1s\nscript: |\n  [{component: 'urn:service:/checkout', state: 'CLEAR'}]\n")
	waitFor(t, "the hostile ones to fail twice in a row and the healthy one to run twice", func() bool {
		for _, n := range []string{"spin", "hog", "crash"} {
			if f.m.Get(n, "").Failures < 2 {
				return false
			}
		}
		r, _ := f.m.Runs("healthy", 0)
		return len(r) >= 2
	})
	for name, want := range map[string]string{"spin": "ExecuteScriptTimeoutError", "hog": "memory", "crash": "boom"} {
		r, _ := f.m.Runs(name, 1)
		if r[0].Outcome != "error" || !strings.Contains(r[0].Error.Type+r[0].Error.Message, want) {
			t.Errorf("%s: %+v", name, r[0].Error)
		}
	}
	if r, _ := f.m.Runs("healthy", 0); r[0].Outcome != "ok" {
		t.Errorf("healthy: %+v", r[0].Error)
	}
	// Queries answer while the hostile ones keep failing (the deadline
	// only catches a hang).
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := f.eng.Query(ctx, `name = "checkout"`)
		cancel()
		if err != nil || res.Topology.Components.Len() != 1 {
			t.Fatalf("a query beside hostile automations: %v", err)
		}
	}
}

// TestValidation: a definition's mistakes are all listed, and nothing is
// stored.
func TestValidation(t *testing.T) {
	f := newFixture(t, automation.Config{})
	for _, tc := range []struct{ yaml, want string }{
		{"name: x\nkind: monitor\nscript: '[]'\n", "needs an interval"},
		{"name: x\nkind: scheduled\nschedule: 'every day'\nscript: '1'\n", "schedule:"},
		{"name: x\nkind: handler\nscript: '1'\n", "needs one trigger"},
		{"name: x\nkind: handler\ntrigger: {health: {filter: 'typ = 1'}}\nscript: '1'\n", "unknown key"},
		{"name: x\nkind: handler\ntrigger: {health: {states: [ON_FIRE]}}\nscript: '1'\n", "not a health state"},
		{"name: x\nkind: monitor\ninterval: 1m\nscript: 'x +* 1'\n", "syntax error"},
		{"name: 'a b'\nkind: cron\nscript: ''\n", "name \"a b\""},
		{"name: x\nkind: monitor\ninterval: 1m\nschedule: '@hourly'\nscript: '1'\n", "schedule is for scheduled scripts"},
	} {
		defs, err := automation.Decode(strings.NewReader(tc.yaml))
		if err == nil {
			_, err = f.m.Apply(defs[0])
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := automation.Decode(strings.NewReader("name: x\nkind: monitor\nintervall: 1m\n")); err == nil || !strings.Contains(err.Error(), "intervall") {
		t.Errorf("an unknown field: %v", err)
	}
	if defs, err := automation.Decode(strings.NewReader(`[{"name": "a", "kind": "monitor"}, {"name": "b", "kind": "monitor"}]`)); err != nil || len(defs) != 2 {
		t.Errorf("a JSON list: %v", err)
	}
	if defs, err := automation.Decode(strings.NewReader("name: a\nkind: monitor\n---\nname: b\nkind: monitor\n")); err != nil || len(defs) != 2 {
		t.Errorf("YAML documents: %v", err)
	}
	if l := f.m.List(""); len(l) != 0 {
		t.Errorf("stored after failing: %v", l)
	}
}

// TestBackoff: after a failure an automation does not run on its own until
// its backoff ends (its ticks are skipped and counted); a manual run still
// runs, and a success resets the count.
func TestBackoff(t *testing.T) {
	f := newFixture(t, automation.Config{Backoff: time.Hour, MaxBackoff: 2 * time.Hour})
	f.apply(t, "name: flaky\nkind: monitor\ninterval: 1s\nscript: 'throw new Error(\"down\")'\n")
	waitFor(t, "the first failure", func() bool { return f.m.Get("flaky", "").Failures == 1 })
	waitFor(t, "a skipped tick", func() bool { return f.m.Get("flaky", "").Skipped >= 1 })
	st := f.m.Get("flaky", "")
	if runs, _ := f.m.Runs("flaky", 0); len(runs) != 1 || st.BackoffUntil.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("during the backoff: %d runs, backoff until %s", len(runs), st.BackoffUntil)
	}
	// Fixed, and tried by hand: it runs, and the failures are forgotten.
	f.apply(t, "name: flaky\nkind: monitor\ninterval: 1h\nscript: '[]'\n")
	if r, err := f.m.RunNow(context.Background(), "flaky", nil); err != nil || r.Outcome != "ok" {
		t.Fatalf("manual run: %+v %v", r, err)
	}
	if st := f.m.Get("flaky", ""); st.Failures != 0 || !st.BackoffUntil.IsZero() {
		t.Errorf("after a success: %+v", st)
	}
}
