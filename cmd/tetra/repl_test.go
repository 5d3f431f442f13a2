package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/internal/ptytest"
)

// childEnv makes this test binary run as the tetra command (its arguments
// after the program name), for tests that need it as a process of its own:
// in a terminal, Ctrl-C is a SIGINT to the terminal's session.
const childEnv = "TETRA_CLI_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, now: time.Now, lookupEnv: os.Getenv}))
	}
	os.Exit(m.Run())
}

// startTetra runs `tetra ARGS…` in an 80 by 24 terminal.
func startTetra(t *testing.T, env []string, args ...string) *ptytest.Term {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), append(env, childEnv+"=1")...)
	return ptytest.Start(t, cmd, 80, 24)
}

// TestReplTerminal runs tetra repl on a terminal over a loaded data
// directory: a query, a completed value, the terminal's width, Ctrl-D, and
// the history in the XDG state directory.
func TestReplTerminal(t *testing.T) {
	data := t.TempDir()
	for _, f := range []string{"webshop-kubernetes.json", "webshop-agent.json webshop-traces.json"} {
		args := []string{"load", "--data", data, "--time", "2026-11-01T10:00:00Z"}
		if strings.Contains(f, " ") {
			args[4] = "2026-11-01T11:00:00Z"
		}
		for _, name := range strings.Fields(f) {
			args = append(args, filepath.Join("..", "..", "testdata", "topology", name))
		}
		if code, _, errOut := runTetra(t, "", args...); code != exitOK {
			t.Fatalf("load: %s", errOut)
		}
	}
	state := t.TempDir()
	tm := startTetra(t, []string{"XDG_STATE_HOME=" + state}, "repl", "--data", data)
	tm.WaitCursorLine("tetra>")
	tm.Type(`name = "check` + "\t")
	tm.WaitCursorLine(`tetra> name = "checkout`)
	tm.Type(`";` + "\r")
	tm.WaitText("1 component at")
	tm.WaitText("time: ")
	tm.WaitCursorLine("tetra>")
	for _, l := range tm.Screen().Lines() {
		if len([]rune(l)) > 80 {
			t.Errorf("a line wider than the terminal: %q", l)
		}
	}
	if !strings.Contains(tm.Screen().Text(), "6   checkout  service") {
		t.Errorf("no result row:\n%s", tm.Screen().Text())
	}
	tm.Type("\x04")
	if err := tm.WaitExit(); err != nil {
		t.Fatalf("tetra repl exited with %v:\n%s", err, tm.Screen().Text())
	}
	b, err := os.ReadFile(filepath.Join(state, "tetra", "history"))
	if err != nil || string(b) != "name = \"checkout\";\n" {
		t.Errorf("history file: %q, %v", b, err)
	}
}
