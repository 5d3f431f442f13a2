package api_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/ingest"
)

// checksAt is when loadChecks commits the web shop's check states: after
// the topology, before the fixture's clock.
var checksAt = loadedAt.Add(time.Hour)

// loadChecks commits testdata/health/webshop-checks.json (the orders
// database's disk CRITICAL, a node's memory DEVIATING) as tetra load does.
func loadChecks(t *testing.T, f *fixture) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "health", "webshop-checks.json"))
	if err != nil {
		t.Fatal(err)
	}
	topos, err := (&ingest.Decoder{DefaultSource: "file:webshop-checks.json"}).Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.NewApplier(f.st).Apply(context.Background(), topos, checksAt); err != nil {
		t.Fatal(err)
	}
}

// health gets a component's health with the named key.
func (f *fixture) health(key, ref, at string) (*exec.ComponentHealth, response) {
	f.t.Helper()
	path := "/api/components/" + ref + "/health"
	if at != "" {
		path += "?topologyTime=" + at
	}
	r := f.do("GET", path, key, nil)
	if r.status != 200 {
		return nil, r
	}
	var h exec.ComponentHealth
	r.json(f.t, &h)
	return &h, r
}

// TestComponentHealth: the health route answers a component's own state
// with the check states behind it, and a dependent's propagated state with
// the degraded dependency it comes from, now and at a past time, by id or
// identifier.
func TestComponentHealth(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "reader", role: api.RoleRead})
	loadChecks(t, f)
	db, r := f.health("reader", "urn:database:%2Fpostgresql%2Forders", "")
	if db == nil {
		t.Fatalf("by identifier: %d %s", r.status, r.body)
	}
	if db.Component.Name != "orders" || db.Component.HealthState != "CRITICAL" || !db.At.Equal(clock()) {
		t.Errorf("orders: %s %s at %s", db.Component.Name, db.Component.HealthState, db.At)
	}
	var checks []string
	for _, c := range db.Checks {
		checks = append(checks, c.Health+" "+c.Name+" "+c.Stream+" "+c.TopologyElementIdentifier)
		if c.LastUpdateTimestamp != checksAt.UnixMilli() {
			t.Errorf("check %s updated at %d, want %d", c.Name, c.LastUpdateTimestamp, checksAt.UnixMilli())
		}
	}
	if want := []string{
		"CLEAR Connections urn:health:monitors:postgres urn:database:/postgresql/orders",
		"CRITICAL Disk usage urn:health:monitors:postgres urn:database:/postgresql/orders",
	}; !slices.Equal(checks, want) {
		t.Errorf("checks:\n%q\nwant\n%q", checks, want)
	}

	byID, r := f.health("reader", itoa(db.Component.ID), "")
	if byID == nil || byID.Component.ID != db.Component.ID || len(byID.Checks) != 2 {
		t.Errorf("by id: %d %.300s", r.status, r.body)
	}

	// checkout calls the orders database: its propagated state is the
	// database's, through that relation.
	co, r := f.health("reader", "urn:service:%2Fcheckout", "")
	if co == nil {
		t.Fatalf("checkout: %d %s", r.status, r.body)
	}
	if co.Component.PropagatedHealthState != "CRITICAL" || co.Component.HealthState == "CRITICAL" || len(co.Checks) != 0 {
		t.Errorf("checkout: own %s, propagated %s, %d checks", co.Component.HealthState, co.Component.PropagatedHealthState, len(co.Checks))
	}
	if !slices.ContainsFunc(co.Dependencies, func(d exec.Dependency) bool { return d.Component.ID == db.Component.ID }) {
		t.Errorf("checkout's degraded dependencies lack orders: %+v", co.Dependencies)
	}

	// Before the checks arrived: no checks, nothing degraded.
	past, r := f.health("reader", "urn:database:%2Fpostgresql%2Forders", "-90m")
	if past == nil || len(past.Checks) != 0 || past.Component.HealthState == "CRITICAL" || !past.At.Equal(clock().Add(-90*time.Minute)) {
		t.Errorf("at -90m: %d %.300s", r.status, r.body)
	}
	if past, _ := f.health("reader", "urn:service:%2Fcheckout", itoa(uint64(checksAt.Add(-time.Minute).UnixMilli()))); past == nil || len(past.Dependencies) != 0 {
		t.Errorf("checkout before the checks, by epoch milliseconds: %+v", past)
	}
}

// TestComponentHealthRefusals: unknown components, bad times and keys that
// may not see a component get their error class, and a scoped key does
// not learn of a dependency outside its scope.
func TestComponentHealthRefusals(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "reader", role: api.RoleRead}, keySpec{name: "agent", role: api.RoleIngest},
		keySpec{name: "services", role: api.RoleRead, scope: `type = "service"`})
	loadChecks(t, f)
	for _, tc := range []struct {
		key, path string
		status    int
		class     api.Class
	}{
		{"reader", "/api/components/urn:none/health", 404, api.ClassNotFound},
		{"reader", "/api/components/999999/health", 404, api.ClassNotFound},
		{"reader", "/api/components/urn:service:%2Fcheckout/health?topologyTime=yesterday", 400, api.ClassBadRequest},
		{"reader", "/api/components/urn:service:%2Fcheckout/health?topologyTime=1700000000", 400, api.ClassBadRequest},
		{"reader", "/api/components/urn:service:%2Fcheckout/health?topologyTime=-1y", 400, api.ClassBadRequest},
		{"reader", "/api/components/urn:service:%2Fcheckout/health?topologyTime=-4h", 404, api.ClassNotFound}, // before the topology
		{"", "/api/components/urn:service:%2Fcheckout/health", 401, api.ClassUnauthorized},
		{"agent", "/api/components/urn:service:%2Fcheckout/health", 403, api.ClassForbidden},
		{"reader", "/api/components/urn:service:%2Fcheckout/health/more", 404, api.ClassNotFound},
	} {
		r := f.do("GET", tc.path, tc.key, nil)
		if r.status != tc.status {
			t.Errorf("%s as %q: %d, want %d: %s", tc.path, tc.key, r.status, tc.status, r.body)
			continue
		}
		if e := r.apiError(t); e.Class != tc.class {
			t.Errorf("%s as %q: class %s, want %s (%s)", tc.path, tc.key, e.Class, tc.class, e.Message)
		}
	}
	if r := f.do("GET", "/api/components/urn:service:%2Fcheckout/health?topologyTime=yesterday", "reader", nil); !bytes.Contains(r.body, []byte(`topologyTime \"yesterday\"`)) {
		t.Errorf("the error does not name the parameter: %s", r.body)
	}

	// The services key sees services only: not the database, and not
	// checkout's dependency on it (though checkout's propagated state,
	// part of checkout, still says CRITICAL), only those on other services.
	if h, r := f.health("services", "urn:database:%2Fpostgresql%2Forders", ""); h != nil || r.status != 404 {
		t.Errorf("the database with the services key: %d %.200s", r.status, r.body)
	}
	all, _ := f.health("reader", "urn:service:%2Fcheckout", "")
	scoped, r := f.health("services", "urn:service:%2Fcheckout", "")
	if all == nil || scoped == nil {
		t.Fatalf("checkout: %d %s", r.status, r.body)
	}
	if len(scoped.Dependencies) >= len(all.Dependencies) || scoped.Component.PropagatedHealthState != "CRITICAL" {
		t.Errorf("checkout's degraded dependencies: %d unscoped, %d scoped, want fewer: %s", len(all.Dependencies), len(scoped.Dependencies), r.body)
	}
	for _, d := range scoped.Dependencies {
		if d.Component.Type != "service" {
			t.Errorf("the services key sees checkout's dependency %s (%s)", d.Component.Name, d.Component.Type)
		}
	}
}
