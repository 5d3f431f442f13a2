package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tetrahq/tetra/internal/usermsg"
)

// Exit statuses, the contract scripts rely on.
const (
	exitOK        = 0   // success
	exitUser      = 1   // a user error: bad query, bad input, a failed check
	exitMisuse    = 2   // misuse of the command line
	exitInterrupt = 130 // stopped by Ctrl-C (128 + SIGINT, as shells report it)
)

// env is what a command sees of the process: its streams. Commands never
// touch os.Stdout or call os.Exit, so tests run them in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	now    func() time.Time // the clock: time.Now, or a fixed time in tests
	// lookupEnv reads the environment (os.Getenv; a map in tests). Only the
	// commands read it, for defaults that flags override.
	lookupEnv func(string) string
	// interrupt, when not nil, starts listening for SIGINT and SIGTERM and
	// returns a channel closed at the first one, and what stops listening.
	// After the first signal a second one ends the process at once, as
	// usual. Only commands that stop gracefully call it (a long query or
	// load, the server); the others keep the default, which ends them at
	// once. Nil (in tests) means no signal ever comes.
	interrupt func() (stop <-chan struct{}, release func())
	// completing, when set, makes parseFlags hand the command's flag set
	// to the completion (tetra __complete) instead of parsing.
	completing *completion
}

// getenv reads an environment variable ("" when the env has none).
func (e *env) getenv(key string) string {
	if e.lookupEnv == nil {
		return ""
	}
	return e.lookupEnv(key)
}

// stopOnInterrupt returns a context cancelled at the first SIGINT or
// SIGTERM, and what releases it. interrupted reports whether a signal
// cancelled it (rather than the command finishing).
func (e *env) stopOnInterrupt() (ctx context.Context, interrupted func() bool, release func()) {
	ctx, cancel := context.WithCancel(context.Background())
	if e.interrupt == nil {
		return ctx, func() bool { return false }, cancel
	}
	stop, unlisten := e.interrupt()
	done := make(chan struct{})
	var hit bool
	go func() {
		select {
		case <-stop:
			hit = true
			cancel()
		case <-done:
		}
	}()
	return ctx, func() bool { return ctx.Err() != nil && hit }, func() {
		close(done)
		unlisten()
		cancel()
	}
}

// notifyStop implements env.interrupt for the process.
func notifyStop() (<-chan struct{}, func()) {
	stop := make(chan struct{})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		select {
		case <-sig:
			// From now on a second signal ends the process at once.
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			close(stop)
		case <-quit:
		}
	}()
	return stop, func() {
		signal.Stop(sig)
		close(quit)
	}
}

// command is one of tetra's commands.
type command struct {
	summary string
	run     func(e *env, args []string) int
}

// commands is the command table, in the order help lists them.
var commandOrder = []string{"query", "repl", "describe", "values", "info", "load", "parse", "script",
	"automation", "serve", "key", "mcp", "completion", "version", "help"}

func commands() map[string]command {
	return map[string]command{
		"parse":      {"print the canonical form of a query, or its positioned error", runParse},
		"load":       {"load topology files into a data directory, one version per file", runLoad},
		"query":      {"run TQL statements against a data directory or a server", runQuery},
		"serve":      {"run the server: the REST API and live subscriptions on one address", runServe},
		"key":        {"create, list and revoke API keys", runKey},
		"repl":       {"an interactive shell: run statements, complete, watch, keep history", runRepl},
		"script":     {"run a JavaScript script with StackState's script APIs", runScript},
		"automation": {"apply, list, run and delete monitors, handlers and scheduled scripts", runAutomation},
		"mcp":        {"serve the MCP tools to a local AI assistant over stdio", runMCP},
		"info":       {"what a data directory or server holds: time span, sources, counts, versions", runInfo},
		"describe":   {"one component: its properties, sources, health and neighbours", runDescribe},
		"values":     {"list the types, layers, domains, labels … present, with counts", runValues},
		"completion": {"print a shell completion script (bash, zsh or fish)", runCompletion},
		"version":    {"print tetra's version", runVersion},
		"help":       {"print the help of tetra or of a command", runHelp},
	}
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, now: time.Now,
		lookupEnv: os.Getenv, interrupt: notifyStop}))
}

func run(args []string, e *env) int {
	cmds := commands()
	if len(args) == 0 {
		usage(e.stderr)
		return exitMisuse
	}
	switch args[0] {
	case "-h", "--help", "-help":
		usage(e.stdout)
		return exitOK
	case "--version", "-version", "-v":
		return runVersion(e, args[1:])
	case completeCommand:
		return runComplete(e, args[1:])
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "tetra: unknown command %q%s\n", args[0], didYouMean(args[0], commandOrder))
		fmt.Fprintln(e.stderr, "Run 'tetra help' for the list of commands.")
		return exitMisuse
	}
	return c.run(e, args[1:])
}

// usage prints the top-level help.
func usage(w io.Writer) {
	cmds := commands()
	fmt.Fprintln(w, "tetra: topology-centred observability; TQL over a versioned graph of what runs and how it depends.")
	fmt.Fprintln(w, "\nUsage: tetra COMMAND [flags] [args]")
	fmt.Fprintln(w, "\nCommands:")
	for _, n := range commandOrder {
		fmt.Fprintf(w, "  %-11s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, `
Environment:
  TETRA_DATA     the data directory (--data), default ./tetra-data
  TETRA_SERVER   the server to ask (--server) instead of a data directory
  TETRA_API_KEY  the API key for it (--key)

Run 'tetra help COMMAND' (or tetra COMMAND --help) for a command's flags and examples.
`)
}

// userError reports a user error (bad query, bad input) and returns
// exitUser. The message is what a user reads: no package prefixes.
func userError(e *env, name string, err error) int {
	msg := usermsg.Message(err)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	fmt.Fprintf(e.stderr, "tetra %s: %s", name, msg)
	return exitUser
}

// interrupted reports a command stopped by Ctrl-C and returns
// exitInterrupt.
func interruptedExit(e *env, name, what string) int {
	fmt.Fprintf(e.stderr, "tetra %s: interrupted%s\n", name, what)
	return exitInterrupt
}

// isCancel reports whether err is a cancellation (Ctrl-C).
func isCancel(err error) bool { return errors.Is(err, context.Canceled) }
