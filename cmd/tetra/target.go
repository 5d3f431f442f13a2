package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/repl"
)

// Environment variables the commands read for their defaults (only here,
// in cmd/tetra); a flag given on the command line wins.
const (
	envData   = "TETRA_DATA"    // --data
	envServer = "TETRA_SERVER"  // --server
	envKey    = "TETRA_API_KEY" // --key
)

// dataFlag adds --data to a command's flags: $TETRA_DATA, or ./tetra-data.
func dataFlag(fs *flags) *string {
	def := fs.e.getenv(envData)
	if def == "" {
		def = defaultDataDir
	}
	return fs.String("data", def, "read the data directory `DIR` (default $TETRA_DATA, or ./tetra-data)")
}

// target is where a command that reads gets its answers: a data directory
// (--data, opened read-only) or a server (--server).
type target struct {
	data, server, key *string
	elastic           *string // --elasticsearch: the data stores of --data
	fs                *flags
}

// targetFlags adds --data, --server and --key.
func targetFlags(fs *flags) *target {
	t := &target{fs: fs, data: dataFlag(fs), elastic: elasticFlag(fs)}
	t.server = fs.String("server", fs.e.getenv(envServer), "ask the tetra server at `URL` instead of reading --data (default $TETRA_SERVER)")
	t.key = fs.String("key", fs.e.getenv(envKey), "API `KEY` for --server (default $TETRA_API_KEY)")
	return t
}

// remote reports whether the command asks a server: --server was given,
// or $TETRA_SERVER is set and --data was not given (a flag wins over the
// environment).
func (t *target) remote() bool {
	set := t.fs.given()
	return *t.server != "" && (set["server"] || !set["data"])
}

// problem says what is wrong with the flags given, or "".
func (t *target) problem() string {
	set := t.fs.given()
	switch {
	case set["server"] && set["data"]:
		return "--data reads a data directory, --server asks a server: give one"
	case set["key"] && !t.remote():
		return "--key goes with --server"
	case set["elasticsearch"] && t.remote():
		return "--elasticsearch goes with --data: a server has its own stores"
	}
	return ""
}

// client returns a client of the server.
func (t *target) client() (*client.Client, error) {
	return client.New(*t.server, client.Options{Key: *t.key})
}

// local is a data directory opened read-only, with its data stores (or
// Elasticsearch's) and an engine over them.
type local struct {
	st  *pebblestore.Store
	ds  *dataStores
	eng *exec.Engine
}

// openLocal opens the data directory and its data stores read-only with an
// engine of the given options.
func (t *target) openLocal(e *env, o exec.Options) (*local, error) {
	st, err := openStore(*t.data, readOnly, e.now)
	if err != nil {
		return nil, err
	}
	ds, err := openData(*t.data, *t.elastic, readOnly, e.now)
	if err != nil {
		st.Close()
		return nil, err
	}
	if o.Now == nil {
		o.Now = e.now
	}
	o.Data = ds.engineStores()
	return &local{st: st, ds: ds, eng: exec.New(st, o)}, nil
}

func (l *local) Close() error { return errors.Join(l.ds.Close(), l.st.Close()) }

// backend returns the repl.Backend of the target: the engine over the data
// directory, or the server's API. The closer releases it.
func (t *target) backend(e *env, o exec.Options) (repl.Backend, io.Closer, error) {
	if t.remote() {
		c, err := t.client()
		if err != nil {
			return nil, nil, err
		}
		return repl.NewRemote(c), io.NopCloser(nil), nil
	}
	l, err := t.openLocal(e, o)
	if err != nil {
		return nil, nil, err
	}
	return repl.NewEmbedded(l.eng), l, nil
}

// outputFlag adds -o and --output: one of the formats allowed, def when not
// given. A bad format is reported by parseFlags as a flag error.
func outputFlag(fs *flags, def string, allowed ...string) *string {
	v := &choiceValue{value: def, allowed: allowed}
	usage := "print as `FORMAT`: " + strings.Join(allowed, ", ")
	fs.Var(v, "output", usage)
	fs.Var(v, "o", "the same as --output")
	return &v.value
}

// choiceValue is a flag that takes one of a few words.
type choiceValue struct {
	value   string
	allowed []string
}

func (c *choiceValue) String() string { return c.value }

func (c *choiceValue) Set(s string) error {
	for _, a := range c.allowed {
		if strings.EqualFold(s, a) {
			c.value = a
			return nil
		}
	}
	return fmt.Errorf("use one of %s", strings.Join(c.allowed, ", "))
}

// renderOptions are repl's rendering options for an output format, fitted
// to the terminal e.stdout is, if it is one.
func renderOptions(e *env, format string, noHeaders bool) repl.Options {
	o := repl.Options{Format: repl.Format(format), NoHeaders: noHeaders}
	if o.Format == repl.FormatTable {
		o.Width = repl.TerminalWidth(e.stdout)
	}
	return o
}

// withTimeout bounds a request to a server: the server bounds the work,
// this bounds the wait for its answer.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d+10*time.Second)
}
