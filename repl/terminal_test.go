package repl

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tetrahq/tetra/api/live"
	tetraexec "github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/internal/ptytest"
	"github.com/tetrahq/tetra/internal/topogen"
	"github.com/tetrahq/tetra/scriptrt"
)

// The terminal tests run the shell in a child process (this test binary,
// started again with childEnv set) inside a pseudo-terminal, and type at
// it. A child is needed because Ctrl-C outside raw mode is a SIGINT that
// the terminal sends to its session, which the test process is not.
const (
	childEnv        = "TETRA_REPL_TEST_CHILD"         // the graph: webshop, hostile or slow
	childHistoryEnv = "TETRA_REPL_TEST_HISTORY"       // the history file
	childLimitEnv   = "TETRA_REPL_TEST_HISTORY_LIMIT" // the history's bound
	childDataEnv    = "TETRA_REPL_TEST_DATA"          // a directory for the slow graph's store
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childShell(mode))
	}
	os.Exit(m.Run())
}

// childShell runs a shell on this process's terminal, as tetra repl does.
func childShell(mode string) int {
	g, err := childGraph(mode)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	interrupt := make(chan os.Signal, 1)
	signal.Notify(interrupt, os.Interrupt)
	limit, _ := strconv.Atoi(os.Getenv(childLimitEnv))
	backend, err := childBackend(g)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = Run(context.Background(), Config{
		Backend:      backend,
		In:           os.Stdin,
		Out:          os.Stdout,
		Err:          os.Stderr,
		Terminal:     os.Stdin,
		HistoryFile:  os.Getenv(childHistoryEnv),
		HistoryLimit: limit,
		Interrupt:    interrupt,
		RunningNote:  200 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// childBackend is what tetra repl --data makes: the engine, and over a
// store, live subscriptions and scripts.
func childBackend(g tetraexec.Graph) (*Embedded, error) {
	now := func() time.Time { return testNow }
	eng := tetraexec.New(g, tetraexec.Options{Now: now})
	b := NewEmbedded(eng)
	rt, err := scriptrt.New(scriptrt.Config{Engine: eng, Now: now})
	if err != nil {
		return nil, err
	}
	b.Scripts = rt
	if st, ok := g.(graphstore.Store); ok {
		if b.Hub, err = live.New(live.Config{Engine: eng, Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func childGraph(mode string) (tetraexec.Graph, error) {
	switch mode {
	case "webshop":
		return loadWebshop()
	case "watch":
		st, err := loadWebshop()
		if err != nil {
			return nil, err
		}
		go commitOnSignal(st)
		return st, nil
	case "hostile":
		st, err := loadWebshop()
		if err != nil {
			return nil, err
		}
		b := &graphstore.Batch{Time: agentAt.Add(time.Minute)}
		b.PutComponent("evil", "evil", graphstore.ComponentData{Name: "\x1b[2J\x1b[Hgotcha\x07", Type: "evil\x1b[31m"})
		_, err = st.Apply(context.Background(), b)
		return st, err
	case "slow":
		return slowGraph(os.Getenv(childDataEnv), 5*time.Millisecond)
	}
	return nil, fmt.Errorf("unknown child mode %q", mode)
}

// commitOnSignal commits a change to the web shop at each SIGUSR1: a
// payments service, then a label of it, then its removal, as an agent
// would report them while someone watches.
func commitOnSignal(st graphstore.Store) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	for n := 0; ; n++ {
		<-sig
		b := &graphstore.Batch{}
		switch n % 3 {
		case 0, 1:
			labels := []string{"app:payments"}
			if n%3 == 1 {
				labels = append(labels, "tier:gold")
			}
			b.PutComponent("agent:payments", "payments", graphstore.ComponentData{Name: "payments", Type: "service",
				Layer: "Services", Labels: labels})
		case 2:
			b.DeleteComponent("agent:payments", "payments")
		}
		if _, err := st.Apply(context.Background(), b); err != nil {
			fmt.Fprintln(os.Stderr, "commit:", err)
		}
	}
}

// slowGraph is a generated graph of 5,000 components whose reads of
// postings each take d: a query over every name takes half a minute, and
// the engine, which checks for cancellation every 64 steps, stops within
// 64 d of a Ctrl-C.
func slowGraph(dir string, d time.Duration) (tetraexec.Graph, error) {
	st, err := pebblestore.Open(dir, pebblestore.Options{Now: func() time.Time { return testNow }, Retention: 1000 * time.Hour, NoSync: true})
	if err != nil {
		return nil, err
	}
	cfg := topogen.Config{Components: 5000, RelationsPer: 1, BatchSize: 5000, Seed: 1, End: testNow.Add(-time.Hour)}
	if _, err := topogen.New(cfg).Load(context.Background(), st); err != nil {
		return nil, err
	}
	return slowStore{st, d}, nil
}

type slowStore struct {
	graphstore.Store
	d time.Duration
}

func (s slowStore) Snapshot(t time.Time) (graphstore.Snapshot, error) {
	snap, err := s.Store.Snapshot(t)
	return slowSnapshot{snap, s.d}, err
}

type slowSnapshot struct {
	graphstore.Snapshot
	d time.Duration
}

func (s slowSnapshot) Postings(ix graphstore.Index, term string) ([]graphstore.ID, error) {
	time.Sleep(s.d)
	return s.Snapshot.Postings(ix, term)
}

// startShell starts a child shell on an 80 by 24 terminal and waits for
// its prompt.
func startShell(t *testing.T, mode string, env ...string) *ptytest.Term {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(env, childEnv+"="+mode)...)
	tm := ptytest.Start(t, cmd, 80, 24)
	tm.WaitCursorLine("tetra>")
	return tm
}

// quit leaves with Ctrl-D at an empty prompt and checks the shell exits
// cleanly. (A Ctrl-D typed ahead, while a result prints, is the terminal's
// end-of-file for a line nobody reads, and is lost.)
func quit(t *testing.T, tm *ptytest.Term) {
	t.Helper()
	tm.Wait("an empty prompt", func(s *ptytest.Screen) bool {
		l := s.CursorLine()
		return strings.HasPrefix(l, "tetra") && strings.HasSuffix(l, ">")
	})
	tm.Type("\x04")
	if err := tm.WaitExit(); err != nil {
		t.Fatalf("the shell exited with %v; the screen:\n%s", err, tm.Screen().Text())
	}
}

// checkFitsScreen checks that no line is wider than the terminal: the
// emulator wraps, so a row that did not fit would show as a line that
// starts with neither an id, a header, a prompt nor a known message.
func checkFitsScreen(t *testing.T, s *ptytest.Screen) {
	t.Helper()
	for _, l := range s.Lines() {
		if width(l) > 80 {
			t.Errorf("line wider than the terminal: %q", l)
		}
	}
}

func TestTerminalQuery(t *testing.T) {
	tm := startShell(t, "webshop")
	tm.Type(`type = "service";` + "\r")
	tm.WaitText("time: ")
	want := []string{
		`tetra> type = "service";`,
		"3 components at 2026-11-01T12:00:00Z",
		"ID  NAME      TYPE     LAYER     DOMAIN   ENVIRONMENTS  HEALTH   LABELS",
		"5   frontend  service  Services  Webshop  Production    UNKNOWN  app:frontend,c…",
	}
	lines := tm.Screen().Lines()
	if len(lines) < len(want) || strings.Join(lines[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("screen:\n%s\nwant it to start with:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	tm.WaitCursorLine("tetra>")
	// Everything on an 80-column terminal: rows are cut, never wrapped.
	tm.Type(`name = "*";` + "\r")
	tm.WaitText("21 relations")
	tm.WaitCursorLine("tetra>")
	checkFitsScreen(t, tm.Screen())
	if tm.Screen().Count("(not shown, too narrow: LABELS)") != 1 {
		t.Errorf("no note of the columns left out:\n%s", tm.Screen().Text())
	}
	quit(t, tm)
}

func TestTerminalComplete(t *testing.T) {
	tm := startShell(t, "webshop")
	steps := []struct{ keys, line string }{
		{"ty\t", "tetra> type "},
		{"= \"se\t", `tetra> type = "service"`},
		{" an\t", `tetra> type = "service" and `},
		{"\x03", "tetra>"},
		{"withN\t", `tetra> withNeighborsOf(`},
		{"c\t", `tetra> withNeighborsOf(components = (`},
		{"na\t", `tetra> withNeighborsOf(components = (name `},
		// Two names start with "checkout": the common part is completed.
		{"= \"chec\t", `tetra> withNeighborsOf(components = (name = "checkout`},
		{"\"), dir\t", `tetra> withNeighborsOf(components = (name = "checkout"), direction = `},
		{"\"u\t", `tetra> withNeighborsOf(components = (name = "checkout"), direction = "up"`},
	}
	for _, s := range steps {
		tm.Type(s.keys)
		tm.WaitCursorLine(s.line)
	}
	tm.Type(");\r")
	tm.WaitText("3 components at 2026-11-01T12:00:00Z") // checkout, its caller and its namespace
	tm.WaitText("5   frontend  service")
	tm.WaitCursorLine("tetra>")

	// Several candidates without a common part are listed; values come
	// from the store, lower-cased as the index keeps them.
	tm.Type("label = \"app:\t")
	tm.WaitText("app:catalog")
	for _, v := range []string{"app:checkout", "app:frontend"} {
		if !strings.Contains(tm.Screen().Text(), v) {
			t.Errorf("completion lists no %s:\n%s", v, tm.Screen().Text())
		}
	}
	tm.Type("\x03\x03") // the first leaves the list of candidates, the second clears the line
	tm.WaitCursorLine("tetra>")
	tm.Type(":ex\t")
	tm.WaitCursorLine("tetra> :explain ")
	tm.Type("heal\t")
	tm.WaitCursorLine("tetra> :explain healthstate ")
	tm.Type("= cl\t")
	tm.WaitCursorLine("tetra> :explain healthstate = clear")
	tm.Type("\r")
	tm.WaitText(`scan healthstate = "clear"`)
	quit(t, tm)
}

func TestTerminalMultiLine(t *testing.T) {
	tm := startShell(t, "webshop")
	// A first line that is a whole query does not run on Enter: the
	// statement goes on until ";" or a blank line.
	tm.Type("type = \"pod\"\r")
	tm.WaitCursorLine("  ...>")
	// Completion knows the line before: a key follows AND.
	tm.Type("AND lab\t")
	tm.WaitCursorLine("  ...> AND label ")
	tm.Type("= \"app:checkout\"\r")
	tm.WaitCursorLine("  ...>")
	tm.Type("\r") // a blank line ends it
	tm.WaitText("1 component at")
	tm.WaitCursorLine("tetra>")
	// Ctrl-C drops an unfinished statement, earlier lines and all.
	// (Joined to the next, it would select nothing.)
	tm.Type("name = \"catalog\" AND\r")
	tm.WaitCursorLine("  ...>")
	tm.Type("\x03")
	tm.WaitCursorLine("tetra>")
	tm.Type(`name = "frontend";` + "\r")
	tm.WaitText("5   frontend  service")
	quit(t, tm)
}

func TestTerminalCancel(t *testing.T) {
	tm := startShell(t, "slow", childDataEnv+"="+t.TempDir())
	start := time.Now()
	tm.Type(`name = "c-*";` + "\r")
	tm.WaitText("running… (Ctrl-C cancels)")
	tm.Type("\x03")
	tm.WaitText("error: cancelled after")
	tm.WaitCursorLine("tetra>")
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("cancelling took %s: the query ran to its end", took) // it takes 25 s uncancelled
	}
	if strings.Contains(tm.Screen().Text(), "running…") {
		t.Errorf("the running note stayed on the screen:\n%s", tm.Screen().Text())
	}
	// The shell is still there, and Ctrl-C at the prompt clears the input.
	tm.Type(`name = "c-1`)
	tm.WaitCursorLine(`tetra> name = "c-1`)
	tm.Type("\x03")
	tm.WaitText(`tetra> name = "c-1^C`)
	tm.WaitCursorLine("tetra>")
	tm.Type(":timing off\r")
	tm.WaitText("timing off")
	quit(t, tm)
}

func TestTerminalHistory(t *testing.T) {
	dir := t.TempDir()
	hist := filepath.Join(dir, "state", "tetra", "history")
	env := []string{childHistoryEnv + "=" + hist}
	tm := startShell(t, "webshop", env...)
	tm.Type(`name = "catalog";` + "\r")
	tm.WaitText("1 component at")
	tm.Type("type = \"pod\" AND\r")
	tm.WaitCursorLine("  ...>")
	tm.Type("label = \"app:checkout\";\r")
	tm.WaitText("checkout-5c6b7d8e9-h4j5k")
	quit(t, tm)

	// A new session recalls both, the one of two lines as one, with the
	// ";" that runs it.
	tm = startShell(t, "webshop", env...)
	tm.Type("\x1b[A")
	tm.WaitCursorLine(`tetra> type = "pod" AND label = "app:checkout";`)
	tm.Type("\x1b[A")
	tm.WaitCursorLine(`tetra> name = "catalog";`)
	tm.Type("\x03")
	tm.WaitCursorLine("tetra>")
	// Ctrl-R searches it.
	tm.Type("\x12cata")
	tm.WaitText("bck-i-search: cata")
	tm.Type("\r") // takes the line, whose ";" runs it
	tm.Wait("the query recalled to run", func(s *ptytest.Screen) bool { return s.Count("1 component at") == 1 })
	quit(t, tm)

	info, err := os.Stat(hist)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("history file mode %v: others may read it", perm)
	}
}

func TestTerminalHistoryBounded(t *testing.T) {
	hist := filepath.Join(t.TempDir(), "history")
	env := []string{childHistoryEnv + "=" + hist, childLimitEnv + "=3"}
	tm := startShell(t, "webshop", env...)
	for i := range 5 {
		tm.Type(fmt.Sprintf(":at -%dh\r", i+1))
		tm.Wait("the :at to be taken", func(s *ptytest.Screen) bool { return s.Count("queries run at") == i+1 })
	}
	quit(t, tm)
	quit(t, startShell(t, "webshop", env...)) // a new session trims the file
	b, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), ":at -3h\n:at -4h\n:at -5h\n"; got != want {
		t.Errorf("history file:\n%s\nwant the last three:\n%s", got, want)
	}
	if info, err := os.Stat(hist); err != nil || info.Mode().Perm()&0o077 != 0 {
		t.Errorf("history file after trimming: %v, %v", info.Mode(), err)
	}
}

func TestTerminalAtExplainErrors(t *testing.T) {
	tm := startShell(t, "webshop")
	tm.Type(":at 2026-11-01T10:30:00Z\r")
	tm.WaitCursorLine("tetra @2026-11-01T10:30:00Z>")
	tm.Type(`type = "node";` + "\r")
	tm.WaitText("2 components at 2026-11-01T10:30:00Z")
	tm.WaitCursorLine("tetra @2026-11-01T10:30:00Z>")
	tm.Type(":at now\r")
	tm.WaitCursorLine("tetra>")

	tm.Type(`:explain type = "pod" AND NOT label = "app:frontend"` + "\r")
	tm.WaitText(`└── scan label = "app:frontend"`)
	tm.WaitCursorLine("tetra>")

	tm.Type(`naem = "x";` + "\r")
	tm.WaitText(`hint: did you mean "name"?`)
	text := tm.Screen().Text()
	if !strings.Contains(text, "error: unknown key \"naem\"\n  1 | naem = \"x\"\n    | ^^^^\nhint: did you mean \"name\"?") {
		t.Errorf("no caret under the error:\n%s", text)
	}
	tm.Type(":format json\r")
	tm.WaitText("format json")
	tm.Type(`name = "catalog";` + "\r")
	tm.WaitText(`  "schemaVersion": 1,`) // indented for reading on a terminal
	tm.WaitCursorLine("tetra>")
	tm.Type(":nope\r")
	tm.WaitText("error: unknown command :nope; try :help :explain")
	quit(t, tm)
}

func TestTerminalEscapes(t *testing.T) {
	tm := startShell(t, "hostile")
	tm.Type(`type = "evil*";` + "\r")
	tm.WaitText(`\x1b[2J\x1b[Hgotcha\x07`)
	text := tm.Screen().Text()
	// The screen was not cleared: the query is still above its result.
	if !strings.Contains(text, `tetra> type = "evil*";`) || !strings.Contains(text, `evil\x1b[31m`) {
		t.Errorf("the screen:\n%s", text)
	}
	quit(t, tm)
}

// TestTerminalWatch watches a query while the store takes commits: the
// answer, then each change as it commits (a component added, its health
// changed before → after, removed), until Ctrl-C, which returns to the
// prompt.
func TestTerminalWatch(t *testing.T) {
	tm := startShell(t, "watch")
	tm.Type(`:watch type = "service"` + "\r")
	tm.WaitText("watching; Ctrl-C stops")
	tm.WaitText("3 components at 2026-11-01T11:00:01Z") // the last commit
	commit := func() {
		t.Helper()
		if err := tm.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
	}
	commit()
	tm.WaitText("1 component: 1 added, 0 removed, 0 changed")
	tm.WaitText("payments  service")
	commit()
	tm.WaitText("+tier:gold")
	commit()
	tm.WaitText("1 component: 0 added, 1 removed, 0 changed")
	checkFitsScreen(t, tm.Screen())
	tm.Type("\x03")
	tm.WaitText("watch stopped after 3 changes")
	tm.WaitCursorLine("tetra>")
	// The shell goes on.
	tm.Type(`name = "checkout";` + "\r")
	tm.WaitText("1 component at")
	quit(t, tm)
}

// TestTerminalScript types a script of several lines up to :end, with no
// completion inside it, and a one-line one.
func TestTerminalScript(t *testing.T) {
	tm := startShell(t, "webshop")
	tm.Type(":script\r")
	tm.WaitCursorLine("   js>")
	tm.Type("Topology.query('type = \"service\"')\r")
	tm.Type("  .components()\t\r") // Tab inserts nothing in JavaScript
	tm.Type("  .thenCollect(c => c.name)\r")
	tm.WaitCursorLine("   js>")
	tm.Type(":end\r")
	tm.WaitText(`"checkout",`)
	tm.WaitCursorLine("tetra>")
	tm.Type(":script Component.withId(6).get().then(c => c.name)\r")
	tm.Wait("the one-line script's value", func(s *ptytest.Screen) bool { return s.Count(`"checkout"`) == 2 })
	quit(t, tm)
}
