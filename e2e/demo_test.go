package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	tetraexec "github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/internal/ptytest"
	"github.com/tetrahq/tetra/mcpserver"
)

// releaseVersion is the version the test stamps on its release build.
const releaseVersion = "v0.0.0-e2e"

// speed is the demo's speed in these tests: the five-minute cycle in 30
// seconds, so that every phase of it comes within a step's retries.
const speed = 10

// retryFor is how long a step is retried until its output matches: a
// whole cycle and some, since some outputs show only in a phase of it.
const retryFor = 45 * time.Second

// buildRelease builds tetra as build/release.sh does for this machine
// (static, -trimpath, the version stamped) and returns its path.
func buildRelease(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("bash", "../build/release.sh", "--host", releaseVersion, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build/release.sh: %v\n%s", err, out)
	}
	return filepath.Join(dir, "tetra")
}

// demoServer is a running tetra serve --demo.
type demoServer struct {
	bin, url, key string
	home          string // HOME of the commands the tour runs
	out           *syncBuffer
	mcp           *mcp.ClientSession // an assistant's session with the server's /mcp
	mcpQueries    int                // how many of the tour's queries ran through it
}

// surfaces is what the other surfaces answered for a step's queries: the
// names of the components in the REST answers, and MCP's text.
type surfaces struct {
	rest []string
	mcp  strings.Builder
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var exportLine = regexp.MustCompile(`export TETRA_SERVER=(\S+) TETRA_API_KEY=(\S+)`)

// startDemo starts tetra serve --demo on a free port and waits for
// /readyz and for the simulated agents' first reports.
func startDemo(t *testing.T, bin string) *demoServer {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--demo", "--listen", "127.0.0.1:0", "--demo-speed", fmt.Sprint(speed))
	d := &demoServer{bin: bin, home: t.TempDir(), out: &syncBuffer{}}
	cmd.Stderr = d.out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, cmd, d.out) })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		d.out.Write(append(sc.Bytes(), '\n'))
		if m := exportLine.FindStringSubmatch(sc.Text()); m != nil {
			d.url, d.key = m[1], m[2]
			break
		}
	}
	if d.url == "" {
		t.Fatalf("tetra serve --demo printed no export line:\n%s", d.out)
	}
	go io.Copy(d.out, stdout)
	d.waitReady(t)
	return d
}

// stop ends the server as Ctrl-C would and checks it exits cleanly.
func stop(t *testing.T, cmd *exec.Cmd, out *syncBuffer) {
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("tetra serve --demo exited with %v:\n%s", err, out)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("tetra serve --demo did not stop within 30s of SIGINT:\n%s", out)
	}
}

// waitReady waits for /readyz, then for the demo's services to arrive
// through the receiver.
func (d *demoServer) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(d.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /readyz within a minute (%v):\n%s", err, d.out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		var res struct {
			Topology struct {
				Components []json.RawMessage `json:"components"`
			} `json:"topology"`
		}
		code, body := d.post(t, "/api/query", `{"query": "type = \"service\""}`)
		if code == 200 && json.Unmarshal(body, &res) == nil && len(res.Topology.Components) >= 15 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo's services did not arrive within a minute (last answer %d %s):\n%s", code, body, d.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// post sends a JSON request with the demo's key.
func (d *demoServer) post(t *testing.T, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", d.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (d *demoServer) env(name string) string {
	switch name {
	case "TETRA_SERVER":
		return d.url
	case "TETRA_API_KEY":
		return d.key
	}
	return ""
}

// command returns a tetra command as the tour runs it: the user's
// environment after the export line tetra serve --demo prints.
func (d *demoServer) command(args ...string) *exec.Cmd {
	cmd := exec.Command(d.bin, args...)
	cmd.Env = append(os.Environ(), "TETRA_SERVER="+d.url, "TETRA_API_KEY="+d.key, "HOME="+d.home, "NO_COLOR=1")
	return cmd
}

// TestDemo builds the release binary, starts tetra serve --demo and runs
// README.md's tour against it.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary and plays the demo for minutes; CI runs it (not -short)")
	}
	bin := buildRelease(t)
	t.Run("version", func(t *testing.T) { checkVersion(t, bin) })
	t.Run("completion", func(t *testing.T) { checkCompletion(t, bin) })
	t.Run("go install", checkInstall)
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	steps, err := ParseTour(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) < 10 {
		t.Fatalf("README.md's tour has %d steps; want at least 10", len(steps))
	}
	d := startDemo(t, bin)
	if d.mcp, err = mcpserver.Remote(context.Background(), d.url, d.key, "e2e"); err != nil {
		t.Fatal(err)
	}
	defer d.mcp.Close()
	for _, st := range steps {
		t.Run(st.Name(), func(t *testing.T) {
			switch st.Kind {
			case "tour":
				d.runShell(t, st)
			case "tour repl":
				d.runREPL(t, st)
			}
		})
	}
	t.Run("websocket", d.checkLive)
	if d.mcpQueries == 0 {
		t.Error("no tour query ran through MCP")
	}
	t.Run("web", d.checkWeb)
}

// checkVersion: the release build says its stamped version.
func checkVersion(t *testing.T, bin string) {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "tetra "+releaseVersion) {
		t.Fatalf("tetra --version: %v\n%s", err, out)
	}
}

// checkCompletion: the completion scripts of the three shells.
func checkCompletion(t *testing.T, bin string) {
	for shell, want := range map[string]string{"bash": "complete ", "zsh": "compdef", "fish": "complete -c tetra"} {
		out, err := exec.Command(bin, "completion", shell).Output()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("tetra completion %s: %v; want a script with %q:\n%.300s", shell, err, want, out)
		}
	}
}

// checkInstall: go install puts a tetra that runs in GOBIN, its version
// from the build information (no stamp).
func checkInstall(t *testing.T) {
	gobin := t.TempDir()
	cmd := exec.Command("go", "install", "./cmd/tetra")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "GOBIN="+gobin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install ./cmd/tetra: %v\n%s", err, out)
	}
	out, err := exec.Command(filepath.Join(gobin, "tetra"), "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "tetra ") {
		t.Fatalf("the installed tetra version: %v\n%s", err, out)
	}
}

// runShell runs a step's tetra commands until their output matches the
// step's output block (or retryFor passes), and the same queries over REST
// and MCP name the components the block shows.
func (d *demoServer) runShell(t *testing.T, st Step) {
	deadline := time.Now().Add(retryFor)
	names := ShownNames(st)
	for {
		var other surfaces
		out, err := d.shell(t, st.Input, &other)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		missing := Match(st.Output, out)
		if missing == "" {
			if missing = other.lacks(names); missing == "" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the output still lacks %q, which README shows; the last output:\n%s\nMCP's:\n%s", retryFor, missing, out, other.mcp.String())
		}
		time.Sleep(time.Second)
	}
}

// lacks returns the first name pattern that the REST answers or MCP's
// text do not hold, saying which ("" when both hold them all).
func (s *surfaces) lacks(names []string) string {
	for _, n := range names {
		whole := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(n), "…", ".*") + "$")
		if !slices.ContainsFunc(s.rest, whole.MatchString) {
			return "the component " + n + " in the answer of POST /api/query"
		}
		if !NameRE(n).MatchString(s.mcp.String()) {
			return "the component " + n + " in the answer of MCP's query tool"
		}
	}
	return ""
}

// shell runs the tetra and curl lines of a block and returns their
// output; other lines (comments, exports, go install) are left out. Each
// query also runs over REST and MCP, their answers added to other.
func (d *demoServer) shell(t *testing.T, lines []string, other *surfaces) (string, error) {
	var out strings.Builder
	for _, line := range lines {
		words, err := Words(line, d.env)
		if err != nil {
			return "", err
		}
		if len(words) == 0 {
			continue
		}
		switch words[0] {
		case "tetra":
			cmd := d.command(words[1:]...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Run(); err != nil {
				return out.String(), fmt.Errorf("%s: %v\n%s", line, err, stderr.String())
			}
			if words[1] == "query" {
				if err := d.alsoElsewhere(t, lastArg(words[2:]), other); err != nil {
					return out.String(), fmt.Errorf("%s: %v", line, err)
				}
			}
		case "curl":
			if err := d.curl(&out, words[1:]); err != nil {
				return out.String(), fmt.Errorf("%s: %v", line, err)
			}
		}
	}
	return out.String(), nil
}

// alsoElsewhere runs a tour's query through POST /api/query and through
// MCP's query tool, as a client and an assistant would, and adds the
// component names of REST's answer and MCP's text to other.
func (d *demoServer) alsoElsewhere(t *testing.T, q string, other *surfaces) error {
	if q == "" {
		return nil
	}
	body, _ := json.Marshal(map[string]string{"query": q})
	code, b := d.post(t, "/api/query", string(body))
	if code != 200 {
		return fmt.Errorf("POST /api/query: %d %s", code, b)
	}
	res, err := tetraexec.DecodeJSON(b)
	if err != nil {
		return fmt.Errorf("POST /api/query: %v", err)
	}
	other.rest = append(other.rest, componentNames(res)...)
	mres, err := d.mcp.CallTool(context.Background(), &mcp.CallToolParams{Name: "query", Arguments: map[string]any{"statement": q, "limit": 500}})
	if err != nil {
		return fmt.Errorf("MCP: %v", err)
	}
	for _, c := range mres.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			other.mcp.WriteString(tc.Text + "\n")
		}
	}
	if mres.IsError {
		return fmt.Errorf("MCP's query tool: an error: %s", other.mcp.String())
	}
	d.mcpQueries++
	return nil
}

// componentNames are the names of the components a result holds: its
// topology, the components a CHANGES result added, removed or changed, and
// those metric series belong to.
func componentNames(res *tetraexec.Result) []string {
	var out []string
	add := func(cs []tetraexec.Component) {
		for _, c := range cs {
			out = append(out, c.Name)
		}
	}
	switch {
	case res.Topology != nil:
		add(res.Topology.Components.Slice())
	case res.Changes != nil:
		add(res.Changes.Added.Components)
		add(res.Changes.Removed.Components)
		for _, c := range res.Changes.Changed.Components {
			out = append(out, c.After.Name)
		}
	case res.Metrics != nil:
		for _, s := range res.Metrics.Series {
			out = append(out, s.Labels.Get("component")...)
			if s.Component != nil {
				out = append(out, s.Component.Name)
			}
		}
	}
	return out
}

// lastArg is a command's statement: its last argument that is not a flag.
func lastArg(args []string) string {
	for i := len(args) - 1; i >= 0; i-- {
		if !strings.HasPrefix(args[i], "-") {
			return args[i]
		}
	}
	return ""
}

// curl does what the tour's curl lines do: -s, -H "K: V", -d BODY, a URL
// (POST with -d, GET without).
func (d *demoServer) curl(w io.Writer, args []string) error {
	var url, body string
	hasBody := false
	hdr := http.Header{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-s" || a == "-S" || a == "-sS":
		case a == "-H" && i+1 < len(args):
			k, v, _ := strings.Cut(args[i+1], ":")
			hdr.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			i++
		case a == "-d" && i+1 < len(args):
			body, hasBody = args[i+1], true
			i++
		case !strings.HasPrefix(a, "-"):
			url = a
		default:
			return fmt.Errorf("the tour's curl does not know %s", a)
		}
	}
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	method := http.MethodGet
	if hasBody {
		method = http.MethodPost
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = hdr
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	fmt.Fprintln(w)
	return err
}

// runREPL drives tetra repl in a pseudo-terminal through a step's
// session: lines after "tetra> " are typed, "^C" is Ctrl-C, and the
// output block's lines (the step's own, after each command) must show.
func (d *demoServer) runREPL(t *testing.T, st Step) {
	// A diff to watch for may be a rollout away.
	ptytest.Timeout = retryFor
	tm := ptytest.Start(t, d.command("repl"), 160, 50)
	tm.WaitText("tetra>")
	var expect []string
	flush := func() {
		if len(expect) == 0 {
			return
		}
		want := expect
		tm.Wait(fmt.Sprintf("the lines %q", want), func(s *ptytest.Screen) bool { return Match(want, s.Text()) == "" })
		expect = nil
	}
	for _, line := range st.Input {
		switch {
		case strings.HasPrefix(line, "tetra> "):
			flush()
			tm.Type(strings.TrimPrefix(line, "tetra> ") + "\r")
		case strings.TrimSpace(line) == "^C":
			flush()
			tm.Type("\x03")
			// Keys typed before the shell is back at its prompt are
			// not read by it.
			tm.WaitCursorLine("tetra>")
		default:
			expect = append(expect, line)
		}
	}
	flush()
	tm.WaitCursorLine("tetra>")
	tm.Type("\x04")
	if err := tm.WaitExit(); err != nil {
		t.Fatalf("tetra repl exited with %v:\n%s", err, tm.Screen().Text())
	}
}

// checkLive subscribes over WebSocket to the checkout pods, as README's
// live step does, and waits for a diff: the rollout replaces them every
// cycle.
func (d *demoServer) checkLive(t *testing.T) {
	ws := "ws" + strings.TrimPrefix(d.url, "http") + "/api/subscribe"
	conn, _, err := websocket.DefaultDialer.Dial(ws, http.Header{"X-API-Key": {d.key}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sub := `{"type":"subscribe","id":"pods","query":"type = \"pod\" AND label = \"app:checkout\""}`
	if err := conn.WriteMessage(websocket.TextMessage, []byte(sub)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(retryFor))
	var kinds []string
	for {
		var msg struct {
			Type  string          `json:"type"`
			Error json.RawMessage `json:"error"`
			Added struct {
				Components []struct {
					Name string `json:"name"`
				} `json:"components"`
			} `json:"added"`
		}
		if err := conn.ReadJSON(&msg); err != nil {
			t.Fatalf("after %q: %v", kinds, err)
		}
		kinds = append(kinds, msg.Type)
		switch {
		case msg.Type == "error":
			t.Fatalf("subscription refused: %s", msg.Error)
		case msg.Type == "diff" && len(msg.Added.Components) > 0:
			if !strings.HasPrefix(msg.Added.Components[0].Name, "checkout-") {
				t.Fatalf("a diff added %q to the checkout pods", msg.Added.Components[0].Name)
			}
			return
		}
	}
}
