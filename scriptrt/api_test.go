package scriptrt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// TestScripts runs the scripts under testdata/scripts through the runtime
// against the web shop. A `run` directive is one script (args: scope=…,
// max-elements=…, timeout=…; nodata, an engine without data stores; args,
// whose input is the arguments script, a line %%, and the script); its
// expected output is the result's _type and value, or the error's
// StackState type, message and the TQL it ran. $HTTP is the base
// URL of a local test server on the allow-list, $OFFLIST one that is not.
func TestScripts(t *testing.T) {
	offList := httptest.NewServer(testHandler())
	defer offList.Close()
	allowed := httptest.NewServer(testHandler(offList.URL))
	defer allowed.Close()
	httpCfg := scriptrt.HTTPConfig{AllowHosts: []string{strings.TrimPrefix(allowed.URL, "http://")}, MaxBodyBytes: 1 << 10}
	eng, topoOnly := webshop(t), webshopTopologyOnly(t)
	rt := newRuntime(t, scriptrt.Config{Engine: eng, HTTP: httpCfg})
	datadriven.Walk(t, "testdata/scripts", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "run" {
				t.Fatalf("unknown directive %q", d.Cmd)
			}
			src := strings.NewReplacer("$HTTP", allowed.URL, "$OFFLIST", offList.URL).Replace(d.Input)
			req := scriptrt.Request{Script: src}
			rt := rt
			for _, a := range d.CmdArgs {
				switch a.Key {
				case "max-elements":
					n, err := strconv.Atoi(a.Vals[0])
					if err != nil {
						t.Fatal(err)
					}
					rt = newRuntime(t, scriptrt.Config{Engine: eng, HTTP: httpCfg, Limits: scriptrt.Limits{MaxElements: n}})
				case "nodata":
					// No data stores: a data statement fails, and the
					// error shows the statement the builder made.
					rt = newRuntime(t, scriptrt.Config{Engine: topoOnly, HTTP: httpCfg})
				case "scope":
					scope, err := lang.ParseFilter(a.Vals[0])
					if err != nil {
						t.Fatal(err)
					}
					req.Scope = scope
				case "timeout":
					to, err := time.ParseDuration(a.Vals[0])
					if err != nil {
						t.Fatal(err)
					}
					req.Timeout = to
				case "args":
					// The input is the arguments script, a line %%, the script.
					args, script, _ := strings.Cut(req.Script, "\n%%\n")
					req.ArgumentsScript, req.Script = args, script
				}
			}
			res, err := rt.Run(context.Background(), req)
			return strings.NewReplacer(allowed.URL, "$HTTP", offList.URL, "$OFFLIST",
				strings.TrimPrefix(allowed.URL, "http://"), "$HTTPHOST", strings.TrimPrefix(offList.URL, "http://"), "$OFFHOST",
			).Replace(formatRun(res, err))
		})
	})
}

// formatRun prints a result as its _type and indented value, an error as
// its StackState document's type, its message and the query it ran.
func formatRun(res *scriptrt.Result, err error) string {
	if err != nil {
		doc := scriptrt.ErrorBody(err)
		s := fmt.Sprintf("error %s: %s\n", doc.Type, strings.TrimPrefix(err.Error(), "scriptrt: "))
		var se *scriptrt.ScriptError
		if errors.As(err, &se) && se.Query != "" {
			s += "query: " + se.Query + "\n"
		}
		return s
	}
	var b bytes.Buffer
	if err := json.Indent(&b, res.Value, "", "  "); err != nil {
		return "bad JSON: " + string(res.Value)
	}
	return res.Type + " " + b.String() + "\n"
}

// testHandler serves what the Http tests call: /echo answers with the
// request, /json a JSON document, /big more than the body limit, /redirect
// to the allowed server, /away to redirectTo (off the allow-list).
func testHandler(redirectTo ...string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "query": r.URL.RawQuery, "body": string(body),
			"contentType": r.Header.Get("Content-Type"), "x": r.Header.Get("X-Test"),
		})
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status": "ok", "items": [1, 2, 3]}`)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 2<<10))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/json", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	if len(redirectTo) > 0 {
		mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, redirectTo[0]+"/json", http.StatusFound)
		})
	}
	return mux
}
