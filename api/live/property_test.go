package live

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/internal/querygen"
	"github.com/tetrahq/tetra/lang"
)

// TestPropertyDiffsRebuildAnswers: after any sequence of committed changes,
// a client that applied the full answer and every diff it got over a real
// WebSocket connection holds exactly the answer a fresh run of the query
// gives, for random queries (every key, negations, globs, withNeighborsOf
// in every direction and to several levels). The same holds when the
// client drops the connection midway and resumes each subscription from
// its last seq on a new one, and under a scope, where moreover no message
// ever shows a component outside the scope. Filters are maintained in
// place and the other queries run again, so both paths are under test
// (TestMaintainedAnswersMatchRerun compares them after every commit).
func TestPropertyDiffsRebuildAnswers(t *testing.T) {
	modes := []string{"plain", "resume", "scoped"}
	for name, open := range stores {
		for _, mode := range modes {
			for seed := range uint64(3) {
				t.Run(fmt.Sprintf("%s/%s/%d", name, mode, seed), func(t *testing.T) {
					property(t, open(t), mode, seed)
				})
			}
		}
	}
}

// fixedQueries join the random ones in every run: shapes whose answer
// depends on reads that random queries rarely make alone (terms listed
// under a glob's prefix, one direction of adjacency).
var fixedQueries = []string{
	`name = "comp-1*"`,
	`label = "tier:*" AND NOT type = "pod"`,
	`withNeighborsOf(components = (name = "comp-1*"), levels = "2", direction = "down")`,
	`withNeighborsOf(components = (type = "host"), levels = "all", direction = "up")`,
}

var scopes = []string{
	`label = "tier:web" OR type = "pod"`,
	`NOT healthstate = "CRITICAL"`,
	`environment = "production" OR layer = "Applications"`,
}

func property(t *testing.T, st graphstore.Store, mode string, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 77))
	gen := &graphtest.RandomHistory{R: r, Sources: 3, Exts: 80, Idents: 30}
	tick := 0
	commit := func() {
		tick++
		b := gen.Batch(6)
		b.Time = graphtest.At(int64(100 * tick))
		if _, err := st.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	for range 15 {
		commit()
	}
	h := newHub(t, st, Limits{})
	eng := exec.New(st, exec.Options{Now: graphtest.Clock})
	var sess Session
	if mode == "scoped" {
		scope, err := lang.ParseFilter(scopes[seed%uint64(len(scopes))])
		if err != nil {
			t.Fatal(err)
		}
		sess.Scope = scope
	}
	url := serve(t, h, sess)
	qg := &querygen.Gen{R: r}
	queries := map[string]string{}
	for i, q := range fixedQueries {
		queries[fmt.Sprintf("f%d", i)] = q
	}
	for i := range 10 {
		queries[fmt.Sprintf("q%d", i)] = qg.Expr()
	}
	c := connect(t, url, queries, nil, eng, sess.Scope)
	check := func(when string) {
		t.Helper()
		syncHub(t, h)
		c.barrier()
		at := st.LastCommit()
		for id, q := range queries {
			a := c.answers[id]
			if a == nil {
				t.Fatalf("%s: %s (%s) has no answer", when, id, q)
			}
			if d := sameAnswer(a, fresh(t, eng, q, sess.Scope, at)); d != "" {
				t.Fatalf("%s: %s: %s\nthe client's answer differs from a fresh one:\n%s", when, id, q, d)
			}
		}
	}
	check("after subscribing")
	for i := 16; i <= 45; i++ {
		commit()
		if mode == "resume" && i == 30 {
			c = reconnect(t, c, url, queries, func() { commit(); commit() }, eng, sess.Scope)
		}
		if i%5 == 0 {
			check(fmt.Sprintf("after commit %d", i))
		}
	}
	check("at the end")
	// Filters among the queries are maintained in place; the rest run
	// again: both paths must have served these answers.
	if evaluationsOf(h, "maintain") == 0 || evaluationsOf(h, "change") == 0 {
		t.Fatalf("maintained in place %v times, run again %v times: one path went untested",
			evaluationsOf(h, "maintain"), evaluationsOf(h, "change"))
	}
}

// connect dials and subscribes to every query (resuming from seqs when
// given) and waits for their first messages.
func connect(t *testing.T, url string, queries map[string]string, seqs map[string]Seq, eng *exec.Engine, scope lang.Expr) *client {
	c := dial(t, url)
	if scope != nil {
		c.onMsg = inScope(t, eng, scope)
	}
	for id, q := range queries {
		if seq, ok := seqs[id]; ok {
			c.subscribe(id, q, &seq)
		} else {
			c.subscribe(id, q, nil)
		}
	}
	for len(c.answers) < len(queries) {
		m := c.must()
		if m.Type == "error" {
			t.Fatalf("%s: %s: %s", m.ID, queries[m.ID], m.raw)
		}
		c.apply(m)
	}
	return c
}

// reconnect drops the connection, lets the graph change while the client is
// away, and resumes every subscription on a new connection from the seq of
// the answer the client holds.
func reconnect(t *testing.T, c *client, url string, queries map[string]string, away func(), eng *exec.Engine, scope lang.Expr) *client {
	c.barrier()
	c.ws.Close()
	<-c.closed
	away()
	seqs := map[string]Seq{}
	for id, a := range c.answers {
		seqs[id] = a.seq
	}
	n := dial(t, url)
	if scope != nil {
		n.onMsg = inScope(t, eng, scope)
	}
	n.answers = c.answers
	for id, q := range queries {
		seq := seqs[id]
		n.subscribe(id, q, &seq)
	}
	// The first message of each is a diff from its seq; later ones (the
	// hub may still be taking the commits made while the client was away)
	// follow on from it.
	resumed := map[string]bool{}
	for len(resumed) < len(queries) {
		m := n.must()
		if !resumed[m.ID] && (m.Type != "diff" || m.From != seqs[m.ID]) {
			t.Fatalf("resuming %s from %s: got %s, want a diff from there", m.ID, seqs[m.ID], m.raw)
		}
		resumed[m.ID] = true
		n.apply(m)
	}
	return n
}

// inScope checks that every component a message shows (in a result, added
// or changed) is in the scope at the message's seq.
func inScope(t *testing.T, eng *exec.Engine, scope lang.Expr) func(wire) {
	cache := map[Seq]map[string]bool{}
	return func(m wire) {
		t.Helper()
		var ids []string
		switch {
		case m.Result != nil:
			for _, x := range m.Result.Topology.Components {
				ids = append(ids, idOf(x))
			}
		case m.Added != nil:
			for _, x := range m.Added.Components {
				ids = append(ids, idOf(x))
			}
			for _, ch := range m.Changed.Components {
				ids = append(ids, ch.ID.String())
			}
		}
		if len(ids) == 0 {
			return
		}
		in := cache[m.Seq]
		if in == nil {
			a := fresh(t, eng, lang.Format(scope), nil, time.Unix(0, int64(m.Seq)))
			in = map[string]bool{}
			for id := range a.comps {
				in[id] = true
			}
			cache[m.Seq] = in
		}
		for _, id := range ids {
			if !in[id] {
				t.Fatalf("%s shows component %s, outside the scope %s at seq %s: %s", m.ID, id, lang.Format(scope), m.Seq, m.raw)
			}
		}
	}
}
