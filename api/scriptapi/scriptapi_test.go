package scriptapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/scriptapi"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/scriptrt"
)

var clock = func() time.Time { return time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC) }

// recorder is a Sink that keeps what scripts wrote.
type recorder struct {
	mu     sync.Mutex
	health []scriptrt.HealthWrite
	events []scriptrt.Event
	fail   error // what SetHealth answers, when set
}

func (r *recorder) SetHealth(_ context.Context, w scriptrt.HealthWrite) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.health = append(r.health, w)
	return nil
}

func (r *recorder) EmitEvents(_ context.Context, evs []scriptrt.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	return nil
}

type fixture struct {
	url   string
	token map[string]string
	sink  *recorder
}

// newFixture serves the web shop with the script endpoint over real HTTP.
func newFixture(t *testing.T, cfg scriptapi.Config, allowHosts ...string) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ap := ingest.NewApplier(st)
	for i, name := range []string{"webshop-kubernetes.json", "webshop-agent.json", "webshop-traces.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "topology", name))
		if err != nil {
			t.Fatal(err)
		}
		topos, err := (&ingest.Decoder{DefaultSource: "file:" + name}).Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ap.Apply(context.Background(), topos, clock().Add(-3*time.Hour+time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	f := &fixture{token: map[string]string{}, sink: &recorder{}}
	kf := api.NewKeyFile(dir)
	for _, k := range []api.NewKey{
		{Name: "ops", Role: api.RoleScript},
		{Name: "shop", Role: api.RoleScript, Scope: `type = "service"`},
		{Name: "reader", Role: api.RoleRead},
	} {
		_, tok, err := kf.Create(k, clock())
		if err != nil {
			t.Fatal(err)
		}
		f.token[k.Name] = tok
	}
	ring, err := api.NewKeyRing(kf)
	if err != nil {
		t.Fatal(err)
	}
	eng := exec.New(st, exec.Options{Now: clock})
	srv := api.New(api.Config{Engine: eng, Keys: ring, Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rt, err := scriptrt.New(scriptrt.Config{Engine: eng, Now: clock, HTTP: scriptrt.HTTPConfig{AllowHosts: allowHosts}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Runtime, cfg.Sink = rt, f.sink
	if err := scriptapi.Mount(srv, cfg); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	f.url = hs.URL
	return f
}

// execute posts a script request and returns the status and the decoded
// answer.
func (f *fixture) execute(t *testing.T, key string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", f.url+"/api/script/execute", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", f.token[key])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestExecuteShapes: StackState's request and response shapes, and its
// typed errors with their statuses.
func TestExecuteShapes(t *testing.T) {
	f := newFixture(t, scriptapi.Config{Timeout: 2 * time.Second, MaxTimeout: 5 * time.Second})
	for _, tc := range []struct {
		body   map[string]any
		status int
		want   string
	}{
		{map[string]any{"script": `Topology.query('type = "service"').components().thenCollect(c => c.name)`}, 200,
			`{"result":{"_type":"Array","value":["frontend","checkout","catalog"]}}`},
		{map[string]any{"script": "svc + n", "argumentsScript": "({svc: 'checkout', n: 1})"}, 200,
			`{"result":{"_type":"String","value":"checkout1"}}`},
		{map[string]any{"script": "\n  x +* 1"}, 400, `"errors":[{"location":{"column":6,"line":2}`},
		{map[string]any{"script": "while (true) {}", "timeoutMs": 150}, 408, `"_type":"ExecuteScriptTimeoutError"`},
		{map[string]any{"script": "while (true) {}", "timeoutMs": 150}, 408, `"timeoutMs":150`},
		{map[string]any{"script": "Topology.query('enviroment = \"x\"').components()"}, 400,
			`"queryErrors":[{"col":1,"hint":"did you mean \"environment\"?","length":10,"line":1,"message":"unknown key \"enviroment\"","offset":0}]`},
		{map[string]any{"script": "n", "argumentsScript": "({n: })"}, 400, `"_type":"ExecuteScriptArgumentsScriptError"`},
		{map[string]any{"script": `Http.get("http://169.254.169.254/").jsonBody()`}, 400, `"_type":"ExecuteScriptSecurityError"`},
		{map[string]any{"script": "'x'.repeat(1 << 30)"}, 400, `"limit":"string length"`},
		{map[string]any{"script": "1", "timeoutMs": 60000}, 400, `"class":"bad_request"`},
		{map[string]any{"script": ""}, 400, `the request has no script`},
		{map[string]any{"script": "1", "timeout": 5}, 400, `unknown field`},
	} {
		status, out := f.execute(t, "ops", tc.body)
		if status != tc.status || !strings.Contains(js(out), tc.want) {
			t.Errorf("%v: %d %s\nwant %d with %s", tc.body, status, js(out), tc.status, tc.want)
		}
	}
	if status, out := f.execute(t, "reader", map[string]any{"script": "1"}); status != 403 {
		t.Errorf("read key: %d %v", status, out)
	}
}

// TestExecuteScopeAndWrites: the key's scope confines the script's queries
// and its writes; writes reach the sink only when the run succeeds.
func TestExecuteScopeAndWrites(t *testing.T) {
	f := newFixture(t, scriptapi.Config{})
	_, out := f.execute(t, "shop", map[string]any{"script": `Topology.query('name = "*"').components().length`})
	if js(out) != `{"result":{"_type":"Number","value":3}}` {
		t.Errorf("scoped query: %s", js(out))
	}
	status, out := f.execute(t, "shop", map[string]any{"script": `Health.set("urn:service:/checkout", "CRITICAL", "p99 over 2s"); "ok"`})
	if status != 200 || len(f.sink.health) != 1 || f.sink.health[0].Stream != "urn:tetra:script:key:shop" ||
		f.sink.health[0].States[0].State != "CRITICAL" || f.sink.health[0].States[0].Name != "script" {
		t.Fatalf("a write in scope: %d %s %+v", status, js(out), f.sink.health)
	}
	// A pod is outside the shop key's scope: nothing is written.
	status, out = f.execute(t, "shop", map[string]any{"script": `Health.set("urn:service:/checkout", "CLEAR");
		Events.emit({name: "restart", components: ["urn:kubernetes:/shop-prod:shop:pod/checkout-7a8b9c0d1-p6q7r"]}); 1`})
	if status != 400 || !strings.Contains(js(out), "not a component in the caller's scope") || len(f.sink.health) != 1 || len(f.sink.events) != 0 {
		t.Errorf("a write outside the scope: %d %s", status, js(out))
	}
	// A run that fails after writing writes nothing.
	status, _ = f.execute(t, "ops", map[string]any{"script": `Health.set("urn:service:/checkout", "CLEAR"); throw new Error("late")`})
	if status != 400 || len(f.sink.health) != 1 {
		t.Errorf("a failed run wrote: %d %+v", status, f.sink.health)
	}
	status, out = f.execute(t, "ops", map[string]any{"script": `Health.set("urn:x", "ON FIRE")`})
	if status != 400 || !strings.Contains(js(out), "is not a health state") {
		t.Errorf("a bad state: %d %s", status, js(out))
	}
	// A store that fails to keep the writes is the server's fault, not
	// the script's; a closed one is unavailable.
	for _, tc := range []struct {
		fail   error
		status int
	}{{errors.New("disk on fire"), 500}, {fmt.Errorf("applying: %w", graphstore.ErrClosed), 503}} {
		f.sink.mu.Lock()
		f.sink.fail = tc.fail
		f.sink.mu.Unlock()
		status, out = f.execute(t, "ops", map[string]any{"script": `Health.set("urn:service:/checkout", "CLEAR"); 1`})
		if status != tc.status || out["reason"] != "write" || !strings.Contains(js(out), "writing the run's health states") {
			t.Errorf("a failing sink (%v): %d %s", tc.fail, status, js(out))
		}
	}
}

// TestExecuteConcurrencyLimit: past the server's script slots a request is
// refused with 429 at once, not queued behind a slow script.
func TestExecuteConcurrencyLimit(t *testing.T) {
	// The slow script waits in an Http call that answers when released, so
	// the test knows the one slot is taken.
	entered, release := make(chan struct{}), make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		w.Write([]byte("{}"))
	}))
	defer hook.Close()
	f := newFixture(t, scriptapi.Config{MaxConcurrent: 1, Timeout: 10 * time.Second}, strings.TrimPrefix(hook.URL, "http://"))
	done := make(chan int)
	go func() {
		status, _ := f.execute(t, "ops", map[string]any{"script": `Http.get("` + hook.URL + `").jsonBody()`})
		done <- status
	}()
	<-entered
	status, out := f.execute(t, "ops", map[string]any{"script": "1"})
	if status != 429 || !strings.Contains(js(out), "scripts at once") {
		t.Errorf("while the one slot was taken: %d %s", status, js(out))
	}
	close(release)
	if status := <-done; status != 200 {
		t.Errorf("the slow script: %d", status)
	}
	if status, _ := f.execute(t, "ops", map[string]any{"script": "1"}); status != 200 {
		t.Errorf("after the slot freed: %d", status)
	}
}
