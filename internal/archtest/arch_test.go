package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/tetrahq/tetra"

// benchGraphs opens the generated benchmark stores, for benchmarks only: the
// one package besides cmd that opens a concrete store.
const benchGraphs = "internal/benchgraph"

// vocabulary is the package that owns the topology key vocabulary.
const vocabulary = "internal/topokeys"

// pkgImports maps a package path (relative to the module root, "." for the
// root) to the import paths its files use, split by test and non-test files.
type pkgImports struct {
	code  map[string]bool // imports of non-test files
	tests map[string]bool // imports of _test.go files
}

func loadImports(t *testing.T, root string) map[string]*pkgImports {
	t.Helper()
	pkgs := map[string]*pkgImports{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		p := pkgs[rel]
		if p == nil {
			p = &pkgImports{code: map[string]bool{}, tests: map[string]bool{}}
			pkgs[rel] = p
		}
		set := p.code
		if strings.HasSuffix(path, "_test.go") {
			set = p.tests
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			set[ip] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// projectPkg returns the module-relative path of an import, or "" when the
// import is not part of this module.
func projectPkg(imp string) string {
	if imp == module {
		return "."
	}
	if rest, ok := strings.CutPrefix(imp, module+"/"); ok {
		return rest
	}
	return ""
}

func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// concreteStores are the store implementations only cmd wires.
var concreteStores = []string{"graphstore/pebblestore", "graphstore/memstore", "telemetry/telpebble",
	"telemetry/telelastic", "traces/tracepebble", "traces/traceelastic"}

func isConcreteStore(dep string) bool {
	return slices.ContainsFunc(concreteStores, func(s string) bool { return under(dep, s) })
}

// closure returns every project package reachable from pkg through non-test
// imports.
func closure(pkgs map[string]*pkgImports, pkg string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		ip, ok := pkgs[p]
		if !ok {
			return
		}
		for imp := range ip.code {
			if dep := projectPkg(imp); dep != "" && !seen[dep] {
				seen[dep] = true
				walk(dep)
			}
		}
	}
	walk(pkg)
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func TestImportDirection(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	pkgs := loadImports(t, root)
	for _, must := range []string{"lang", "planner", "exec", "graphstore", "telemetry", "traces", "ingest", "scriptrt", "api", "repl", "cmd/tetra", vocabulary} {
		if _, ok := pkgs[must]; !ok {
			t.Errorf("package %s is missing from the layout", must)
		}
	}

	for pkg, ip := range pkgs {
		deps := closure(pkgs, pkg)
		all := map[string]bool{}
		for imp := range ip.code {
			all[imp] = true
		}
		for imp := range ip.tests {
			all[imp] = true
		}
		// The key vocabulary is a leaf: every layer may use it, so it
		// imports no project package.
		if under(pkg, vocabulary) {
			for imp := range all {
				if dep := projectPkg(imp); dep != "" && !under(dep, vocabulary) {
					t.Errorf("%s imports %s: the key vocabulary must import no other project package", pkg, imp)
				}
			}
		}
		// lang is the bottom of the stack: it imports no project package but
		// the key vocabulary.
		if under(pkg, "lang") {
			for imp := range all {
				if dep := projectPkg(imp); dep != "" && !under(dep, "lang") && !under(dep, vocabulary) {
					t.Errorf("%s imports %s: lang must import no other project package than %s", pkg, imp, vocabulary)
				}
			}
		}
		// planner builds plans; it may see the language and nothing that executes or stores.
		if under(pkg, "planner") {
			for _, dep := range deps {
				if !under(dep, "lang") && !under(dep, "planner") && !under(dep, vocabulary) {
					t.Errorf("%s depends on %s: the planner may import only lang and %s", pkg, dep, vocabulary)
				}
			}
		}
		// The stores' shared machinery is theirs alone (Go's internal rule
		// already keeps it inside graphstore).
		if !under(pkg, "graphstore") {
			for imp := range all {
				if dep := projectPkg(imp); under(dep, "graphstore/internal") {
					t.Errorf("%s imports %s: only the stores use their shared machinery", pkg, imp)
				}
			}
		}
		// The server knows nothing of what mounts on it (live
		// subscriptions, receivers, …): they import api, cmd wires them.
		if pkg == "api" {
			for _, dep := range deps {
				if under(dep, "api/") {
					t.Errorf("%s depends on %s: components mount on the server (Server.Handle), the server does not import them", pkg, dep)
				}
			}
		}
		// The demo reaches the server only as agents do, over HTTP: no
		// side door into the stores, the engine or ingestion (its tests
		// check its payloads with ingest's decoder).
		if pkg == "demo" {
			for imp := range ip.code {
				if dep := projectPkg(imp); dep != "" {
					t.Errorf("%s imports %s: the demo's agents reach the server over HTTP only", pkg, imp)
				}
			}
		}
		// Stores know nothing of the query engine above them.
		if under(pkg, "graphstore") || under(pkg, "telemetry") || under(pkg, "traces") {
			for _, dep := range deps {
				if under(dep, "lang") || under(dep, "planner") || under(dep, "exec") || under(dep, "ingest") {
					t.Errorf("%s depends on %s: stores must not import the query engine or ingestion", pkg, dep)
				}
			}
		}
		for imp := range all {
			// Only ingest talks to Kafka.
			if strings.HasPrefix(imp, "github.com/segmentio/kafka-go") && !under(pkg, "ingest") {
				t.Errorf("%s imports %s: only ingest may import the Kafka client", pkg, imp)
			}
			// Only the shell drives a terminal's line editor.
			if strings.HasPrefix(imp, "github.com/chzyer/readline") && !under(pkg, "repl") {
				t.Errorf("%s imports %s: only repl may import the line editor", pkg, imp)
			}
			// Only the script runtime runs JavaScript: its sandbox is
			// what makes a script safe to run.
			if strings.HasPrefix(imp, "github.com/dop251/goja") && !under(pkg, "scriptrt") {
				t.Errorf("%s imports %s: only scriptrt may import the JavaScript engine", pkg, imp)
			}
			// The MCP server is one package; the binary wires its transports.
			// The end-to-end tests are an assistant's client from outside.
			if strings.HasPrefix(imp, "github.com/modelcontextprotocol/go-sdk") && !under(pkg, "mcpserver") && !under(pkg, "cmd") && !under(pkg, "e2e") {
				t.Errorf("%s imports %s: only mcpserver (and cmd, for its transports) may import the MCP SDK", pkg, imp)
			}
			// The OpenTelemetry SDK instruments the demo's simulated
			// services, and is the real client of the OTLP receivers'
			// tests; Tetra receives OTLP, it does not emit it.
			if (strings.HasPrefix(imp, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(imp, "go.opentelemetry.io/otel/exporters")) &&
				!under(pkg, "demo") && ip.code[imp] {
				t.Errorf("%s imports %s: only the demo (its simulated services) and tests may import the OpenTelemetry SDK", pkg, imp)
			}
			// gRPC serves OTLP/gRPC; the rest of the API is HTTP.
			if strings.HasPrefix(imp, "google.golang.org/grpc") && ip.code[imp] && !under(pkg, "ingest/receiver") && !under(pkg, "demo") {
				t.Errorf("%s imports %s: only ingest/receiver (the OTLP/gRPC receiver) may import gRPC", pkg, imp)
			}
			// Schedules are the automations' business.
			if strings.HasPrefix(imp, "github.com/robfig/cron") && !under(pkg, "scriptrt/automation") {
				t.Errorf("%s imports %s: only scriptrt/automation may import the cron parser", pkg, imp)
			}
			// Nothing imports the binary.
			if dep := projectPkg(imp); dep != "" && under(dep, "cmd") {
				t.Errorf("%s imports %s: nothing may import cmd", pkg, imp)
			}
		}
		// The pseudo-terminal harness and the power-cut harness are for
		// tests only.
		for imp := range ip.code {
			if dep := projectPkg(imp); dep == "internal/ptytest" || dep == "internal/crashtest" {
				t.Errorf("%s imports %s outside its tests: it is test machinery", pkg, imp)
			}
		}
		// WebSocket is served by the API (tests anywhere may be clients).
		for imp := range ip.code {
			if strings.HasPrefix(imp, "github.com/gorilla/websocket") && !under(pkg, "api") {
				t.Errorf("%s imports %s: only api and its sub-packages may serve WebSocket", pkg, imp)
			}
		}
		// The web view is assets and the handler that serves them: it
		// talks to the server only through the public API, from the
		// browser, so it imports no project package.
		if under(pkg, "web") {
			for imp := range ip.code {
				if dep := projectPkg(imp); dep != "" {
					t.Errorf("%s imports %s: the web view imports no project package", pkg, imp)
				}
			}
		}
		// Only cmd wires concrete stores; other packages see interfaces
		// (their tests may use the implementations).
		if !under(pkg, "cmd") && !under(pkg, "graphstore") && !under(pkg, "telemetry") && !under(pkg, "traces") && !under(pkg, benchGraphs) {
			for imp := range ip.code {
				if dep := projectPkg(imp); isConcreteStore(dep) {
					t.Errorf("%s imports %s: only cmd may wire a concrete store", pkg, imp)
				}
			}
		}
		// The Elasticsearch client belongs to the Elasticsearch stores.
		for imp := range ip.code {
			if strings.HasPrefix(imp, "github.com/elastic/go-elasticsearch") && !under(pkg, "telemetry/telelastic") &&
				!under(pkg, "traces/traceelastic") && !under(pkg, "internal/esutil") {
				t.Errorf("%s imports %s: only the Elasticsearch stores may", pkg, imp)
			}
		}
	}
}
