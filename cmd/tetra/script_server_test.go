package main

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
	tetraexec "github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// scriptServer serves the web shop in dir with the script endpoint
// mounted, as tetra serve does.
func scriptServer(t *testing.T, dir string, keys *api.KeyRing) *httptest.Server {
	t.Helper()
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: testClock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ds, err := openData(dir, "", readWrite, testClock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	stores := ds.engineStores()
	eng := tetraexec.New(st, tetraexec.Options{Now: testClock, Data: stores})
	srv := api.New(api.Config{Engine: eng, Keys: keys, Now: testClock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	autos, err := openAutomationStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { autos.Close() })
	mgr, err := mountServices(srv, mountDeps{eng: eng, graph: st, events: stores.Events, autos: autos,
		scripts: scriptConfig{MaxTimeout: time.Minute}, now: testClock, logger: srv.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	mgr.Start()
	t.Cleanup(mgr.Close)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

// TestScriptServerPrintsTheSame: tetra script run --server prints exactly
// what tetra script run --data prints: values, typed results, the caret
// drawing of a failed query, syntax errors, timeouts and exit statuses.
func TestScriptServerPrintsTheSame(t *testing.T) {
	dir := t.TempDir()
	loadWebshop(t, dir)
	file := filepath.Join(t.TempDir(), "report.js")
	if err := os.WriteFile(file, []byte("Topology.query('type = \"service\"').components()\n  .thenCollect(c => c.name)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hs := scriptServer(t, dir, nil)
	for _, args := range [][]string{
		{"--script", `Topology.query('type = "service"').components().thenCollect(c => c.name)`},
		{"--json", "--script", `Component.withId(6).get().then(c => [c.name, c.incomingRelations.length])`},
		{"-f", file},
		{"--json", "-f", file},
		{"--script", `Topology.query('type = "service" AND enviroment = "x"').components()`},
		{"--json", "--script", `Topology.query('type = ').components()`},
		{"--script", "var x = ;"},
		{"--json", "--script", "x +* 2"},
		{"--timeout", "300ms", "--script", "while (true) {}"},
		{"--json", "--timeout", "300ms", "--script", "while (true) {}"},
		{"--script", `throw new Error("no")`},
		{"--json", "--script", `Http.get("http://example.com/").jsonBody()`},
		{"--script", "'a'.repeat(1 << 30)"},
		{"--json", "--script", "new Date(0)"},
	} {
		c1, o1, e1 := runTetra(t, "", append([]string{"script", "run", "--data", dir}, args...)...)
		c2, o2, e2 := runTetra(t, "", append([]string{"script", "run", "--server", hs.URL}, args...)...)
		if c1 != c2 || o1 != o2 || e1 != e2 {
			t.Errorf("%q:\nembedded: exit %d\n%s%s\nserver:   exit %d\n%s%s", args, c1, o1, e1, c2, o2, e2)
		}
		if o1 == "" && e1 == "" {
			t.Errorf("%q printed nothing", args)
		}
	}
}

// TestScriptServerKeysAndMisuse: a key without role script is refused
// with the server's reason; flags that only make sense locally are misuse.
func TestScriptServerKeysAndMisuse(t *testing.T) {
	dir := t.TempDir()
	loadWebshop(t, dir)
	kf := api.NewKeyFile(dir)
	_, reader, err := kf.Create(api.NewKey{Name: "reader", Role: api.RoleRead}, testClock())
	if err != nil {
		t.Fatal(err)
	}
	_, scripter, err := kf.Create(api.NewKey{Name: "ops", Role: api.RoleScript, Scope: `type = "service"`}, testClock())
	if err != nil {
		t.Fatal(err)
	}
	ring, err := api.NewKeyRing(kf)
	if err != nil {
		t.Fatal(err)
	}
	hs := scriptServer(t, dir, ring)
	code, _, errOut := runTetra(t, "", "script", "run", "--server", hs.URL, "--key", reader, "--script", "1")
	if code != exitUser || !strings.Contains(errOut, "needs role script") {
		t.Errorf("read key: exit %d %s", code, errOut)
	}
	// The key's scope confines the script's queries.
	code, out, errOut := runTetra(t, "", "script", "run", "--server", hs.URL, "--key", scripter, "--script",
		`Topology.query('name = "*"').components().thenCollect(c => c.type)`)
	if code != exitOK || out != "[\n  \"service\",\n  \"service\",\n  \"service\"\n]\n" {
		t.Errorf("scoped key: exit %d %q %s", code, out, errOut)
	}
	for _, args := range [][]string{
		{"--server", hs.URL, "--data", dir, "--script", "1"},
		{"--server", hs.URL, "--allow-host", "x", "--script", "1"},
		{"--key", "k", "--script", "1"},
	} {
		if code, _, _ := runTetra(t, "", append([]string{"script", "run"}, args...)...); code != exitMisuse {
			t.Errorf("%q: exit %d, want misuse", args, code)
		}
	}
}
