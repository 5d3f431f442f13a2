package repl

import (
	"context"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// Backend is where the shell's statements run: the engine in this process
// over a data directory (Embedded), or a Tetra server. The shell asks for
// nothing else, so a new place to run is one new implementation.
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
}

// RunOptions are the options the shell sets for one statement.
type RunOptions struct {
	// At is the time the statement runs at (set with :at): relative times
	// count from it and a query without AT reads the graph then. The zero
	// time is now.
	At time.Time
}

// Embedded is the Backend that runs statements on an engine in this
// process. It is safe for concurrent use, as the engine is.
type Embedded struct {
	eng *exec.Engine
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
