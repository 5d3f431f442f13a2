package exec_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
)

// encodeCaches holds one encode cache per store, shared by every query of
// a test file, so that entries meet later versions of their elements.
var encodeCaches sync.Map // graphstore.Store → *exec.EncodeCache

func encodeCache(st graphstore.Store) *exec.EncodeCache {
	c, _ := encodeCaches.LoadOrStore(st, exec.NewEncodeCache())
	return c.(*exec.EncodeCache)
}

// checkRunJSON checks that RunJSON writes the document AppendJSON writes
// of RunWith's result res, byte for byte, without a cache and with one
// (three times: filling it and noting the lists, keeping the lists, then
// writing them whole), or fails with RunWith's error runErr. The result's
// rows are read out first (materialised), so that the document compared
// is encoded from every row's Component and Relation values, not from the
// store's elements as RunJSON encodes them.
func checkRunJSON(t *testing.T, eng *exec.Engine, cache *exec.EncodeCache, src string, stmt lang.Statement, qo exec.QueryOptions, res *exec.Result, runErr error) {
	t.Helper()
	var want []byte
	if runErr == nil {
		var err error
		if want, err = exec.AppendJSON(context.Background(), nil, materialised(res), exec.EncodeOptions{}); err != nil {
			t.Fatalf("%s: AppendJSON: %v", src, err)
		}
	}
	for i, c := range []*exec.EncodeCache{nil, cache, cache, cache} {
		got, err := eng.RunJSON(context.Background(), []byte("prefix"), stmt, qo, exec.EncodeOptions{Cache: c})
		switch {
		case runErr != nil && (err == nil || err.Error() != runErr.Error()):
			t.Fatalf("%s: RunJSON (run %d) fails with %v; RunWith with %v", src, i, err, runErr)
		case runErr != nil:
			continue
		case err != nil:
			t.Fatalf("%s: RunJSON (run %d): %v", src, i, err)
		case !bytes.HasPrefix(got, []byte("prefix")):
			t.Fatalf("%s: RunJSON (run %d) did not append to dst: %.40q", src, i, got)
		case !bytes.Equal(got[len("prefix"):], want):
			t.Fatalf("%s: RunJSON (run %d) writes\n%s\nAppendJSON of RunWith's result\n%s", src, i, got[len("prefix"):], want)
		}
	}
}

// materialised returns res with a topology answer's rows read out into
// values (exec.RowsOf).
func materialised(res *exec.Result) *exec.Result {
	t := res.Topology
	if t == nil {
		return res
	}
	m := *t
	m.Components, m.Relations = exec.RowsOf(t.Components.Slice()), exec.RowsOf(t.Relations.Slice())
	return &exec.Result{Topology: &m}
}
