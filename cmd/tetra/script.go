package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/api/scriptapi"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// maxScriptFile bounds a script read from a file or stdin.
const maxScriptFile = 4 << 20

// runScript implements tetra script run: run one JavaScript script against
// a data directory with StackState's script APIs and print its result.
func runScript(e *env, args []string) int {
	if subcommandHelp(e, "script", args) {
		return exitOK
	}
	if len(args) == 0 || args[0] != "run" {
		return misuse(e, newFlags(e, "script"), "the one subcommand is run, as in tetra script run --script '1 + 1'")
	}
	fs := newFlags(e, "script run")
	data := dataFlag(fs)
	server := fs.String("server", e.getenv("TETRA_SERVER"), "run the script on the tetra server at `URL` instead of reading --data (default $TETRA_SERVER)")
	key := fs.String("key", e.getenv("TETRA_API_KEY"), "API `KEY` for --server, of role script (default $TETRA_API_KEY)")
	file := fs.String("f", "", "run the script in `FILE` (- reads stdin)")
	src := fs.String("script", "", "run the script `S`")
	timeout := durationFlag(fs, "timeout", scriptrt.DefaultTimeout, "stop a script that runs longer than `D`")
	asJSON := fs.Bool("json", false, `print StackState's typed result, {"result": {"_type": …, "value": …}}`)
	var hosts []string
	fs.Func("allow-host", "let the script's Http calls reach `HOST` (host or host:port; repeat for more)", func(h string) error {
		hosts = append(hosts, h)
		return nil
	})
	pos, err := parseFlags(fs, args[1:])
	set := fs.given()
	switch {
	case err != nil:
		return flagStatus(err)
	case len(pos) > 0:
		return misuse(e, fs, "unexpected argument %q: give the script with --script or -f", pos[0])
	case (*file == "") == (*src == ""):
		return misuse(e, fs, "give the script with either --script S or -f FILE")
	case *timeout <= 0:
		return misuse(e, fs, "--timeout must be positive, as in --timeout 10s")
	case *server != "" && set["data"]:
		return misuse(e, fs, "--data reads a data directory, --server asks a server: give one")
	case *server != "" && len(hosts) > 0:
		return misuse(e, fs, "--allow-host is for a local run; a server's script Http allow-list is its configuration (scripts.allowHosts)")
	case *key != "" && *server == "" && set["key"]:
		return misuse(e, fs, "--key goes with --server")
	}
	name, text := "script", *src
	if *file != "" {
		if name, text, err = readScript(e, *file); err != nil {
			return userError(e, "script", err)
		}
	}
	if *server != "" {
		req := scriptapi.ExecuteRequest{Script: text}
		if set["timeout"] {
			req.TimeoutMs = timeout.Milliseconds()
		}
		return runScriptServer(e, *server, *key, req, *timeout, *asJSON)
	}
	return runScriptText(e, *data, name, text, *timeout, hosts, *asJSON)
}

// runScriptServer runs a script on a server (POST /api/script/execute)
// and prints what a local run prints: the value, the typed result with
// --json, the same errors and exit status.
func runScriptServer(e *env, server, key string, req scriptapi.ExecuteRequest, timeout time.Duration, asJSON bool) int {
	c, err := client.New(server, client.Options{Key: key})
	if err != nil {
		return userError(e, "script", err)
	}
	// The server bounds the run; this bounds the wait for its answer.
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	res, err := c.ExecuteScript(ctx, req)
	if err != nil {
		var doc *scriptrt.ErrorDoc
		if !errors.As(err, &doc) {
			return userError(e, "script", err) // refused before it ran: no typed document
		}
		return scriptError(e, err, asJSON)
	}
	return printScriptResult(e, res, asJSON)
}

// readScript reads a script file (or stdin for -), refusing a huge one.
func readScript(e *env, name string) (string, string, error) {
	r, closeFn, err := openInput(e, name)
	if err != nil {
		return "", "", err
	}
	defer closeFn()
	b, err := io.ReadAll(io.LimitReader(r, maxScriptFile+1))
	if err != nil {
		return "", "", err
	}
	if len(b) > maxScriptFile {
		return "", "", fmt.Errorf("%s is bigger than %d MiB, too big for a script", name, maxScriptFile>>20)
	}
	if name == "-" {
		name = "stdin"
	}
	return name, string(b), nil
}

func runScriptText(e *env, data, name, text string, timeout time.Duration, hosts []string, asJSON bool) int {
	st, err := openStore(data, readOnly, e.now)
	if err != nil {
		return userError(e, "script", err)
	}
	defer st.Close()
	// The data stores, so Telemetry, Events and Traces queries run.
	ds, err := openData(data, "", readOnly, e.now)
	if err != nil {
		return userError(e, "script", err)
	}
	defer ds.Close()
	rt, err := scriptrt.New(scriptrt.Config{
		Engine: exec.New(st, exec.Options{Now: e.now, Data: ds.engineStores()}),
		Now:    e.now,
		HTTP:   scriptrt.HTTPConfig{AllowHosts: hosts},
	})
	if err != nil {
		return userError(e, "script", err)
	}
	res, err := rt.Run(context.Background(), scriptrt.Request{Script: text, Name: name, Timeout: timeout})
	if err != nil {
		return scriptError(e, err, asJSON)
	}
	return printScriptResult(e, res, asJSON)
}

// printScriptResult prints a script's value as indented JSON, or with
// --json StackState's typed response.
func printScriptResult(e *env, res *scriptrt.Result, asJSON bool) int {
	out := any(res.Value)
	if asJSON {
		out = scriptrt.Response{Result: res}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return userError(e, "script", err)
	}
	return exitOK
}

// scriptError reports a failed script on stderr (a query error with its
// caret), and with --json StackState's typed error document on stdout.
func scriptError(e *env, err error, asJSON bool) int {
	if asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(scriptrt.ErrorBody(err))
	}
	var se *scriptrt.ScriptError
	if errors.As(err, &se) && se.Query != "" && lang.Locate(se.Query, se.Err) != nil {
		fmt.Fprintf(e.stderr, "tetra script: %d:%d: this query of the script failed:\n%s", se.Line, se.Column, lang.Render(se.Query, se.Err))
		return exitUser
	}
	return userError(e, "script", err)
}
