package repl

import (
	"context"
	"errors"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/client"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/scriptrt"
)

// Remote is the Backend that asks a Tetra server, through its REST API and
// its live subscriptions (api/client). It is safe for concurrent use, as
// the client is.
type Remote struct {
	c *client.Client
}

// NewRemote returns a backend over a server's client.
func NewRemote(c *client.Client) *Remote { return &Remote{c: c} }

var _ Backend = (*Remote)(nil)

// Run implements Backend: POST /api/query.
func (b *Remote) Run(ctx context.Context, src string, o RunOptions) (*exec.Result, error) {
	return b.c.Query(ctx, api.QueryRequest{Query: src, At: client.AtParam(o.At)})
}

// Explain implements Backend: POST /api/explain.
func (b *Remote) Explain(ctx context.Context, src string, o RunOptions) (string, error) {
	return b.c.Explain(ctx, api.QueryRequest{Query: src, At: client.AtParam(o.At)})
}

// Values implements Backend: GET /api/values.
func (b *Remote) Values(ctx context.Context, key, prefix string, limit int) ([]string, error) {
	return b.c.Values(ctx, key, prefix, limit)
}

// ValueCounts implements Backend: GET /api/values with counts.
func (b *Remote) ValueCounts(ctx context.Context, key, prefix string, limit int, o RunOptions) ([]exec.ValueCount, error) {
	vals, _, err := b.c.ValueCounts(ctx, key, prefix, limit, client.AtParam(o.At))
	return vals, err
}

// Health implements Backend: GET /api/components/{id}/health, nil for a
// 404 (as the engine answers nil for a component that does not exist).
func (b *Remote) Health(ctx context.Context, id uint64, o RunOptions) (*exec.ComponentHealth, error) {
	h, err := b.c.Health(ctx, id, client.AtParam(o.At))
	var ae *api.Error
	if errors.As(err, &ae) && ae.Class == api.ClassNotFound {
		return nil, nil
	}
	return h, err
}

// Watch implements Backend: a subscription over GET /api/subscribe, which
// resumes by itself when the connection drops.
func (b *Remote) Watch(ctx context.Context, src string) (Watcher, error) {
	return b.c.Watch(ctx, src)
}

// Script implements Backend.
func (b *Remote) Script(ctx context.Context, src string) (*scriptrt.Result, error) {
	return nil, errors.New("running scripts on a server needs its script endpoint (POST /api/script/execute), which this build does not have yet; run :script in tetra repl --data DIR")
}
