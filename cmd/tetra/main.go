package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Exit statuses, the contract scripts rely on.
const (
	exitOK     = 0 // success
	exitUser   = 1 // a user error: bad query, bad input, a failed check
	exitMisuse = 2 // misuse of the command line
)

// env is what a command sees of the process: its streams. Commands never
// touch os.Stdout or call os.Exit, so tests run them in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time // the clock: time.Now, or a fixed time in tests
	// getenv reads the environment (os.Getenv; a map in tests). Only the
	// commands read it, for defaults that flags override.
	lookupEnv func(string) string
	// signals, when not nil, ends a long-running command (tetra serve) when
	// it is closed; main closes it on SIGINT or SIGTERM.
	signals <-chan struct{}
}

// getenv reads an environment variable ("" when the env has none).
func (e *env) getenv(key string) string {
	if e.lookupEnv == nil {
		return ""
	}
	return e.lookupEnv(key)
}

// notifyStop returns a channel closed on the first SIGINT or SIGTERM; a
// second one ends the process at once, as usual.
func notifyStop() <-chan struct{} {
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		close(stop)
	}()
	return stop
}

type command struct {
	summary string
	run     func(e *env, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"parse":      {"print the canonical form of a query, or its positioned error", runParse},
		"load":       {"load topology files into a data directory, one version per file", runLoad},
		"query":      {"run a TQL statement against a data directory or a server", runQuery},
		"serve":      {"run the server: the REST API on one address", runServe},
		"key":        {"create, list and revoke API keys", runKey},
		"repl":       {"an interactive shell: run statements, complete, keep history", runRepl},
		"script":     {"run a JavaScript script with StackState's script APIs", runScript},
		"automation": {"apply, list, run and delete monitors, handlers and scheduled scripts", runAutomation},
		"mcp":        {"serve the MCP tools to a local AI assistant over stdio", runMCP},
	}
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, now: time.Now,
		lookupEnv: os.Getenv, signals: notifyStop()}))
}

func run(args []string, e *env) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr, cmds)
		if len(args) == 0 {
			return exitMisuse
		}
		return exitOK
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "tetra: unknown command %q\n\n", args[0])
		usage(e.stderr, cmds)
		return exitMisuse
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: tetra <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'tetra <command> -h' for a command's flags.")
}

// newFlags returns a flag set that reports to e.stderr and never exits.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: tetra %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags wherever they appear among the arguments (the
// standard library stops at the first positional one) and returns the
// positional arguments. "--" ends flag parsing. It returns flag.ErrHelp for
// -h, and the flag package's error (already printed) for bad flags.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagStatus maps a flag parsing error to an exit status.
func flagStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitMisuse
}

// misuse reports a command-line mistake and returns exitMisuse.
func misuse(e *env, fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "tetra %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return exitMisuse
}

// userError reports a user error (bad query, bad input) and returns exitUser.
func userError(e *env, name string, err error) int {
	msg := err.Error()
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprintf(e.stderr, "tetra %s: %s", name, msg)
	return exitUser
}
