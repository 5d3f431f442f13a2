package repl

import (
	"context"
	"errors"
	"time"

	"github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/api/live"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/scriptrt"
)

// Backend is where the shell's statements run: the engine in this process
// over a data directory (Embedded), or a Tetra server (Remote). The shell
// asks for nothing else, so a new place to run is one new implementation.
//
// Implementations must be safe for use by more than one goroutine: the
// shell completes values while no statement runs, but the two may overlap
// when a completion's look-up outlives its deadline.
type Backend interface {
	// Run runs one statement. Errors keep the engine's classes; language
	// errors (and planner errors with a span) are positioned in src, for
	// lang.Render. Run returns promptly once ctx is cancelled.
	Run(ctx context.Context, src string, o RunOptions) (*exec.Result, error)
	// Explain returns the plan of a statement drawn as a tree.
	Explain(ctx context.Context, src string, o RunOptions) (string, error)
	// Values lists values of a topology key that components carry now,
	// starting with prefix, in order, at most limit of them (as
	// exec.Engine.Values).
	Values(ctx context.Context, key, prefix string, limit int) ([]string, error)
	// ValueCounts is Values with how many components carry each value, at
	// the time o says (as exec.Engine.ValueCounts).
	ValueCounts(ctx context.Context, key, prefix string, limit int, o RunOptions) ([]exec.ValueCount, error)
	// Health returns a component's health at the time o says with the
	// check states and degraded dependencies behind it (as
	// exec.Engine.Health); nil when no such component exists then.
	Health(ctx context.Context, id uint64, o RunOptions) (*exec.ComponentHealth, error)
	// Watch subscribes to a topology query: the Watcher gives its full
	// answer, then an update for every change of it (api/live's
	// subscriptions). A query that cannot be followed fails here, with
	// its position.
	Watch(ctx context.Context, src string) (Watcher, error)
	// Script runs a JavaScript script with StackState's script APIs
	// (package scriptrt) and returns its typed result.
	Script(ctx context.Context, src string) (*scriptrt.Result, error)
}

// Watcher is one live subscription. Next and Close are used by one
// goroutine.
type Watcher interface {
	// Next waits for the next update: the full answer first, then one per
	// diff. It returns ctx's error when ctx is done.
	Next(ctx context.Context) (*client.Update, error)
	Close() error
}

// RunOptions are the options the shell sets for one statement.
type RunOptions struct {
	// At is the time the statement runs at (set with :at): relative times
	// count from it and a query without AT reads the graph then. The zero
	// time is now.
	At time.Time
}

// Embedded is the Backend that runs statements on an engine in this
// process. It is safe for concurrent use, as the engine is. Set the
// optional fields before the shell starts.
type Embedded struct {
	eng *exec.Engine
	// Hub serves :watch: live subscriptions over the store the engine
	// reads, which see the commits made to it in this process. Without
	// one, :watch says it is not available.
	Hub *live.Hub
	// Scripts runs :script; without one, :script says it is not
	// available.
	Scripts *scriptrt.Runtime
}

// NewEmbedded returns a backend over an engine.
func NewEmbedded(eng *exec.Engine) *Embedded { return &Embedded{eng: eng} }

var _ Backend = (*Embedded)(nil)

// Run implements Backend.
func (b *Embedded) Run(ctx context.Context, src string, o RunOptions) (*exec.Result, error) {
	stmt, err := lang.Parse(src)
	if err != nil {
		return nil, err
	}
	return b.eng.RunWith(ctx, stmt, exec.QueryOptions{Now: o.At})
}

// Explain implements Backend.
func (b *Embedded) Explain(_ context.Context, src string, o RunOptions) (string, error) {
	stmt, err := lang.Parse(src)
	if err != nil {
		return "", err
	}
	return b.eng.ExplainWith(stmt, exec.QueryOptions{Now: o.At})
}

// Values implements Backend.
func (b *Embedded) Values(ctx context.Context, key, prefix string, limit int) ([]string, error) {
	return b.eng.Values(ctx, key, prefix, limit, exec.QueryOptions{})
}

// ValueCounts implements Backend.
func (b *Embedded) ValueCounts(ctx context.Context, key, prefix string, limit int, o RunOptions) ([]exec.ValueCount, error) {
	return b.eng.ValueCounts(ctx, key, prefix, limit, exec.QueryOptions{Now: o.At})
}

// Health implements Backend.
func (b *Embedded) Health(ctx context.Context, id uint64, o RunOptions) (*exec.ComponentHealth, error) {
	return b.eng.Health(ctx, id, exec.QueryOptions{Now: o.At})
}

// ErrNotAvailable is returned for what a backend was not set up to do.
var ErrNotAvailable = errors.New("repl: not available")

// Watch implements Backend with the hub's in-process subscriptions. Their
// messages go through the protocol's encoding and the client's decoding
// and tracking, so a watch here and one of a server print the same.
func (b *Embedded) Watch(ctx context.Context, src string) (Watcher, error) {
	if b.Hub == nil {
		return nil, errors.New("live subscriptions are not available here")
	}
	sub, err := b.Hub.Subscribe(ctx, live.Request{Query: src}, live.Session{})
	if err != nil {
		return nil, err
	}
	return &hubWatch{sub: sub}, nil
}

// hubWatch is a Watcher over an in-process subscription.
type hubWatch struct {
	sub     *live.Subscription
	tracker client.Tracker
}

func (w *hubWatch) Next(ctx context.Context) (*client.Update, error) {
	for {
		m, err := w.sub.Next(ctx)
		if err != nil {
			return nil, err
		}
		b, err := m.AppendJSON(nil, "w")
		if err != nil {
			return nil, err
		}
		cm, err := client.DecodeMessage(b)
		if err != nil {
			return nil, err
		}
		u, err := w.tracker.Take(cm)
		if err != nil || u != nil {
			return u, err
		}
	}
}

func (w *hubWatch) Close() error {
	w.sub.Close()
	return nil
}

// Script implements Backend.
func (b *Embedded) Script(ctx context.Context, src string) (*scriptrt.Result, error) {
	if b.Scripts == nil {
		return nil, errors.New("scripts are not available here")
	}
	return b.Scripts.Run(ctx, scriptrt.Request{Script: src, Name: "script"})
}
