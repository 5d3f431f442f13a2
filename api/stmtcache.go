package api

import (
	"sync"

	"github.com/tetrahq/tetra/lang"
)

// stmtCache remembers parsed statements by their text, so that a client
// repeating a query (a dashboard, a script, a benchmark) does not pay for
// parsing it again (tens of microseconds and hundreds of allocations for
// a typical query, as much as running a selective one).
// Statements are immutable once parsed and shared by every request with the
// same text; only statements that parsed are kept. It is bounded in entries
// and in the length of the texts it keeps, and safe for concurrent use.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]lang.Statement
}

const (
	stmtCacheEntries = 1024
	stmtCacheMaxText = 4 << 10 // longer queries are parsed every time
)

func newStmtCache() *stmtCache { return &stmtCache{m: make(map[string]lang.Statement)} }

// parse returns the statement of src, parsed now or before.
func (c *stmtCache) parse(src string) (lang.Statement, error) {
	c.mu.Lock()
	stmt, ok := c.m[src]
	c.mu.Unlock()
	if ok {
		return stmt, nil
	}
	stmt, err := lang.Parse(src)
	if err != nil || len(src) > stmtCacheMaxText {
		return stmt, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= stmtCacheEntries {
		for k := range c.m { // an arbitrary entry makes room: no bookkeeping per hit
			delete(c.m, k)
			break
		}
	}
	c.m[src] = stmt
	return stmt, nil
}
