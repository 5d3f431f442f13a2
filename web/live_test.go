package web_test

import (
	"testing"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/api/live"
	tetraexec "github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// mountLive mounts live subscriptions (GET /api/subscribe) on the server,
// as tetra serve does.
func mountLive(t *testing.T, srv *api.Server, eng *tetraexec.Engine, st *pebblestore.Store) {
	t.Helper()
	hub, err := live.New(live.Config{Engine: eng, Store: st, Registerer: srv.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	hub.Mount(srv)
}
