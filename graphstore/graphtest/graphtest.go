// Package graphtest is the conformance suite of graphstore.Store: the same
// datadriven files run unchanged against every implementation (the in-memory
// reference and Pebble), so the two cannot drift apart.
//
// Times in the files are seconds after a fixed base time (Base). Commands:
//
//	apply time=S
//	put-component SOURCE EXT [name=…] [type=…] [layer=…] [domain=…] [env=a,b] [labels=a,b] [ids=a,b] [health=…] [props=JSON]
//	delete-component SOURCE EXT
//	put-relation SOURCE EXT FROM TO [type=…] [ids=a,b] [labels=a,b] [dep=…]
//	delete-relation SOURCE EXT
//	put-check STREAM ID IDENTIFIER [name=…] [state=…] [message=…]
//	delete-check STREAM ID
//	replace-stream STREAM
//	----
//	commit at S: added=N changed=N removed=N     (or the error)
//
//	graph [at=S]                  every live element, one per line (a
//	                              component's propagated health shows when
//	                              it differs from its own)
//	checks component=N [at=S]     the check states bound to a component
//	stream name=STREAM [at=S]     the check states of a health stream
//	postings index=I term=T [at=S]   (T is a component id for out, in, bound)
//	terms index=I [prefix=P] [at=S]
//	adjacent id=N dir=out|in [at=S]
//	lookup kind=component|relation source=S ext=E
//	feed from=S                   every commit after S, with before/after versions
//	compact now=S
package graphtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/graphstore"
)

// Base is time 0 of the test files.
var Base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Clock is the fake clock the suite runs stores with: always far after every
// time the files use, so no batch is "in the future".
func Clock() time.Time { return Base.Add(1000 * time.Hour) }

// Opener opens an empty store for one test file. The store must use now as
// its clock and retention as its retention period.
type Opener func(t *testing.T, now func() time.Time, retention time.Duration) graphstore.Store

// Retention is the retention period the suite's stores use.
const Retention = 3600 * time.Second

// Run runs every file under dir against stores made by open.
func Run(t *testing.T, dir string, open Opener) {
	datadriven.Walk(t, dir, func(t *testing.T, path string) {
		st := open(t, Clock, Retention)
		defer st.Close()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := Exec(st, d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
	t.Run("open-snapshot-holds-compaction", func(t *testing.T) { snapshotHoldsCompaction(t, open) })
	t.Run("future-skew", func(t *testing.T) { futureSkew(t, open) })
	t.Run("check-message-limit", func(t *testing.T) { checkMessageLimit(t, open) })
}

// checkMessageLimit: a check state's message may be MaxMessageBytes long,
// not longer; a refused batch writes nothing.
func checkMessageLimit(t *testing.T, open Opener) {
	st := open(t, Clock, Retention)
	defer st.Close()
	for _, n := range []int{graphstore.MaxMessageBytes + 1, graphstore.MaxMessageBytes} {
		b := &graphstore.Batch{Time: At(10)}
		b.PutComponent("s", "c", graphstore.ComponentData{Name: "c"})
		b.PutCheck("urn:health:s", "big", graphstore.CheckData{Name: "big", State: graphstore.HealthCritical,
			Identifier: "c", Message: strings.Repeat("x", n)})
		_, err := st.Apply(context.Background(), b)
		var oe *graphstore.OpError
		if (n > graphstore.MaxMessageBytes) != errors.As(err, &oe) {
			t.Fatalf("a message of %d bytes: err = %v", n, err)
		}
		sn, err := st.Snapshot(time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := graphstore.StreamChecks(sn, "urn:health:s")
		sn.Close()
		if err != nil || len(got) != map[bool]int{true: 0, false: 1}[n > graphstore.MaxMessageBytes] {
			t.Fatalf("after a message of %d bytes the stream holds %d check states (%v)", n, len(got), err)
		}
	}
}

// snapshotHoldsCompaction: a compaction never drops what an open snapshot
// reads; once it is closed, the next compaction may.
func snapshotHoldsCompaction(t *testing.T, open Opener) {
	st := open(t, Clock, Retention)
	defer st.Close()
	for i, name := range []string{"old", "new"} {
		b := &graphstore.Batch{Time: At(int64(10 * (i + 1)))}
		b.PutComponent("s", "c", graphstore.ComponentData{Name: name, Type: "service"})
		if _, err := st.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
	}
	sn, err := st.Snapshot(At(15))
	if err != nil {
		t.Fatal(err)
	}
	far := Clock().Add(100 * Retention)
	if _, err := st.Compact(context.Background(), far); err != nil {
		t.Fatal(err)
	}
	if got, err := DumpGraph(sn); err != nil || !strings.Contains(got, `"old"`) {
		t.Fatalf("an open snapshot at 15 reads %q (%v) after a compaction, want the old version", got, err)
	}
	sn.Close()
	if _, err := st.Compact(context.Background(), far); err != nil {
		t.Fatal(err)
	}
	var bre *graphstore.BeforeRetentionError
	if _, err := st.Snapshot(At(15)); !errors.As(err, &bre) {
		t.Fatalf("reading at 15 after the snapshot closed and compaction ran: %v, want a BeforeRetentionError", err)
	}
	if _, err := st.Subscribe(At(15)); !errors.As(err, &bre) {
		t.Fatalf("a feed from 15 after compaction: %v, want a BeforeRetentionError", err)
	}
	// A feed from the zero time starts at the oldest history kept.
	f, err := st.Subscribe(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := &graphstore.Batch{Time: At(30)}
	b.PutComponent("s", "c", graphstore.ComponentData{Name: "newer", Type: "service"})
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if ev, err := f.Next(ctx); err != nil || !ev.Time.Equal(At(30)) {
		t.Fatalf("a feed from the zero time after compaction delivered %v (%v), want the commit at 30", ev, err)
	}
}

// futureSkew: a batch stamped a little ahead of the clock is taken, one
// far ahead is refused.
func futureSkew(t *testing.T, open Opener) {
	st := open(t, Clock, Retention)
	defer st.Close()
	for _, c := range []struct {
		ahead time.Duration
		ok    bool
	}{{time.Minute, true}, {time.Hour, false}} {
		b := &graphstore.Batch{Time: Clock().Add(c.ahead)}
		b.PutComponent("s", "c", graphstore.ComponentData{Name: "c", Type: "service"})
		_, err := st.Apply(context.Background(), b)
		if (err == nil) != c.ok {
			t.Errorf("a batch %s ahead of the clock: err = %v", c.ahead, err)
		}
	}
}

// Exec runs one datadriven command against a store.
func Exec(st graphstore.Store, d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "apply":
		return apply(st, d)
	case "graph":
		return withSnapshot(st, d, DumpGraph)
	case "postings":
		return withSnapshot(st, d, func(sn graphstore.Snapshot) (string, error) { return postings(sn, d) })
	case "terms":
		return withSnapshot(st, d, func(sn graphstore.Snapshot) (string, error) { return terms(sn, d) })
	case "adjacent":
		return withSnapshot(st, d, func(sn graphstore.Snapshot) (string, error) { return adjacent(sn, d) })
	case "lookup":
		return withSnapshot(st, d, func(sn graphstore.Snapshot) (string, error) { return lookup(sn, d) })
	case "checks":
		return withSnapshot(st, d, func(sn graphstore.Snapshot) (string, error) {
			id, _ := argInt(d, "component")
			return formatChecks(graphstore.ChecksOf(sn, graphstore.ID(id)))
		})
	case "stream":
		return withSnapshot(st, d, func(sn graphstore.Snapshot) (string, error) {
			return formatChecks(graphstore.StreamChecks(sn, argStr(d, "name")))
		})
	case "feed":
		return feed(st, d)
	case "compact":
		return compact(st, d)
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

// At converts a file time (seconds after Base) to a time.
func At(sec int64) time.Time { return Base.Add(time.Duration(sec) * time.Second) }

// Apply commits to st the batch fill builds, at At(sec), and fails t if
// the store refuses it.
func Apply(t testing.TB, st graphstore.Store, sec int64, fill func(b *graphstore.Batch)) {
	t.Helper()
	b := &graphstore.Batch{Time: At(sec)}
	fill(b)
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// Sec converts a time back to file seconds.
func Sec(t time.Time) string {
	d := t.Sub(Base)
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 9, 64)
}

func SecNs(ns int64) string { return Sec(time.Unix(0, ns)) }

func argInt(d *datadriven.TestData, key string) (int64, bool) {
	if !d.HasArg(key) {
		return 0, false
	}
	s := argStr(d, key)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("%s=%s: %v", key, s, err))
	}
	return n, true
}

func argStr(d *datadriven.TestData, key string) string {
	a, ok := d.Arg(key)
	if !ok || len(a.Vals) == 0 {
		return ""
	}
	return a.Vals[0]
}

func withSnapshot(st graphstore.Store, d *datadriven.TestData, f func(graphstore.Snapshot) (string, error)) (string, error) {
	var at time.Time
	if s, ok := argInt(d, "at"); ok {
		at = At(s)
	}
	sn, err := st.Snapshot(at)
	if err != nil {
		return "", err
	}
	defer sn.Close()
	return f(sn)
}

func apply(st graphstore.Store, d *datadriven.TestData) (string, error) {
	b := &graphstore.Batch{}
	if s, ok := argInt(d, "time"); ok {
		b.Time = At(s)
	}
	for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if err := ParseOp(b, line); err != nil {
			return "", err
		}
	}
	c, err := st.Apply(context.Background(), b)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("commit at %s: added=%d changed=%d removed=%d\n", Sec(c.Time), c.Added, c.Changed, c.Removed), nil
}

// ParseOp appends the operation a line describes to b.
func ParseOp(b *graphstore.Batch, line string) error {
	fields, err := splitFields(line)
	if err != nil {
		return err
	}
	pos, kv := splitArgs(fields)
	need := map[string]int{"put-component": 2, "delete-component": 2, "put-relation": 4, "delete-relation": 2,
		"put-check": 3, "delete-check": 2, "replace-stream": 1}
	if len(pos) == 0 || need[pos[0]] == 0 {
		return fmt.Errorf("unknown operation in %q", line)
	}
	if len(pos)-1 != need[pos[0]] {
		return fmt.Errorf("%s takes %d positional arguments: %q", pos[0], need[pos[0]], line)
	}
	switch pos[0] {
	case "put-component":
		c, err := componentData(kv)
		if err != nil {
			return err
		}
		b.PutComponent(pos[1], pos[2], c)
	case "delete-component":
		b.DeleteComponent(pos[1], pos[2])
	case "put-relation":
		r, err := relationData(pos[3], pos[4], kv)
		if err != nil {
			return err
		}
		b.PutRelation(pos[1], pos[2], r)
	case "delete-relation":
		b.DeleteRelation(pos[1], pos[2])
	case "put-check":
		state, err := graphstore.ParseHealthState(kv["state"])
		if err != nil {
			return err
		}
		b.PutCheck(pos[1], pos[2], graphstore.CheckData{Name: kv["name"], State: state, Message: kv["message"], Identifier: pos[3]})
	case "delete-check":
		b.DeleteCheck(pos[1], pos[2])
	case "replace-stream":
		b.ReplaceStream(pos[1])
	}
	return nil
}

func componentData(kv map[string]string) (graphstore.ComponentData, error) {
	c := graphstore.ComponentData{
		Name: kv["name"], Type: kv["type"], Layer: kv["layer"], Domain: kv["domain"],
		Environments: list(kv["env"]), Labels: list(kv["labels"]), Identifiers: list(kv["ids"]),
	}
	if p := kv["props"]; p != "" {
		c.Properties = []byte(p)
	}
	var err error
	c.Health, err = graphstore.ParseHealthState(kv["health"])
	return c, err
}

func relationData(from, to string, kv map[string]string) (graphstore.RelationData, error) {
	r := graphstore.RelationData{SourceRef: from, TargetRef: to, Type: kv["type"],
		Identifiers: list(kv["ids"]), Labels: list(kv["labels"])}
	var err error
	r.Dependency, err = graphstore.ParseDependencyDirection(kv["dep"])
	return r, err
}

func list(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// splitFields splits on spaces, keeping double-quoted runs (Go syntax)
// together: name="a b".
func splitFields(line string) ([]string, error) {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		end := 0
		for end < len(line) && line[end] != ' ' {
			if line[end] == '"' {
				q, err := strconv.QuotedPrefix(line[end:])
				if err != nil {
					return nil, fmt.Errorf("bad quoting in %q: %v", line, err)
				}
				end += len(q)
				continue
			}
			end++
		}
		out = append(out, line[:end])
		line = line[end:]
	}
	return out, nil
}

func splitArgs(fields []string) (pos []string, kv map[string]string) {
	kv = map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			pos = append(pos, unquote(f))
			continue
		}
		kv[k] = unquote(v)
	}
	return pos, kv
}

func unquote(s string) string {
	if u, err := strconv.Unquote(s); err == nil {
		return u
	}
	return s
}

// DumpGraph prints every element live in a snapshot: components, then
// relations, then check states.
func DumpGraph(sn graphstore.Snapshot) (string, error) {
	var b strings.Builder
	for _, kind := range []string{graphstore.TermComponent, graphstore.TermRelation, graphstore.TermCheck} {
		ids, err := sn.Postings(graphstore.IdxKind, kind)
		if err != nil {
			return "", err
		}
		for _, id := range ids {
			e, err := sn.Element(id)
			if err != nil {
				return "", err
			}
			if e == nil {
				return "", fmt.Errorf("element %d is indexed as live but has no live version", id)
			}
			b.WriteString(FormatElement(e))
			b.WriteByte('\n')
		}
	}
	if b.Len() == 0 {
		return "(empty)\n", nil
	}
	return b.String(), nil
}

// FormatCommit prints a change-feed event: its time, then each change with
// the versions before and after.
func FormatCommit(ev *graphstore.CommitEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "commit at %s\n", Sec(ev.Time))
	for _, c := range ev.Changes {
		fmt.Fprintf(&b, "  %s %s %d\n", c.Op, c.Kind, c.ID)
		if c.Before != nil {
			fmt.Fprintf(&b, "    before: %s\n", FormatElement(c.Before))
		}
		if c.After != nil {
			fmt.Fprintf(&b, "    after:  %s\n", FormatElement(c.After))
		}
		if c.Op == graphstore.Changed {
			fmt.Fprintf(&b, "    fields: %s\n", strings.Join(graphstore.ChangedFields(c.Before, c.After), ","))
		}
	}
	return b.String()
}

// DumpAdjacency prints the traversable relations of every live component
// at the snapshot's time, both ways.
func DumpAdjacency(sn graphstore.Snapshot) (string, error) {
	ids, err := sn.Postings(graphstore.IdxKind, graphstore.TermComponent)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var adj []graphstore.Adjacency
	for _, id := range ids {
		for _, ix := range []graphstore.Index{graphstore.IdxOut, graphstore.IdxIn} {
			if adj, err = sn.Adjacent(id, ix, adj[:0]); err != nil {
				return "", err
			}
			if len(adj) > 0 {
				fmt.Fprintf(&b, "%d %s %v\n", id, ix, adj)
			}
		}
	}
	return b.String(), nil
}

// FormatElement prints an element version on one line.
func FormatElement(e *graphstore.Element) string {
	if e == nil {
		return "<none>"
	}
	if c := e.Component(); c != nil {
		health := c.Health.String()
		if c.Propagated != c.Health {
			health += " propagated=" + c.Propagated.String()
		}
		s := fmt.Sprintf("component %d %q type=%q layer=%q domain=%q env=%v labels=%v ids=%v health=%s sources=%s v=%s",
			c.ID, c.Name, c.Type, c.Layer, c.Domain, c.Environments, c.Labels, c.Identifiers, health, refs(c.Sources), SecNs(c.Updated))
		if len(c.Properties) > 0 {
			s += " props=" + string(c.Properties)
		}
		return s
	}
	if c := e.Check(); c != nil {
		return FormatCheck(c)
	}
	r := e.Relation()
	return fmt.Sprintf("relation %d %q %d->%d refs=%s->%s dep=%s ids=%v sources=%s v=%s",
		r.ID, r.Type, r.Source, r.Target, r.SourceRef, r.TargetRef, r.Dependency, r.Identifiers, refs(r.Sources), SecNs(r.Updated))
}

// FormatCheck prints a check state version on one line.
func FormatCheck(c *graphstore.Check) string {
	s := fmt.Sprintf("check %d %s/%s %q %s on=%q ->%d v=%s", c.ID, c.Stream, c.CheckID, c.Name, c.State,
		c.Identifier, c.Component, SecNs(c.Updated))
	if c.Message != "" {
		s += fmt.Sprintf(" message=%q", c.Message)
	}
	return s
}

func formatChecks(checks []*graphstore.Check, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if len(checks) == 0 {
		return "(none)\n", nil
	}
	var b strings.Builder
	for _, c := range checks {
		b.WriteString(FormatCheck(c))
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func refs(rs []graphstore.SourceRef) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Source + "/" + r.ExternalID
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// ParseIndex finds an index by the name it prints as.
func ParseIndex(name string) (graphstore.Index, error) {
	for _, ix := range graphstore.Indexes() {
		if ix.String() == name {
			return ix, nil
		}
	}
	return 0, fmt.Errorf("unknown index %q", name)
}

func postings(sn graphstore.Snapshot, d *datadriven.TestData) (string, error) {
	ix, err := ParseIndex(argStr(d, "index"))
	if err != nil {
		return "", err
	}
	term := argStr(d, "term")
	if ix.IDTermIndex() { // written as the component's id
		n, err := strconv.ParseUint(term, 10, 64)
		if err != nil {
			return "", fmt.Errorf("index %s takes a component id, not %q", ix, term)
		}
		term = graphstore.IDTerm(graphstore.ID(n))
	}
	ids, err := sn.Postings(ix, term)
	return fmt.Sprintf("%v\n", ids), err
}

func terms(sn graphstore.Snapshot, d *datadriven.TestData) (string, error) {
	ix, err := ParseIndex(argStr(d, "index"))
	if err != nil {
		return "", err
	}
	var out []string
	err = sn.Terms(ix, argStr(d, "prefix"), func(term string) error {
		ids, err := sn.Postings(ix, term)
		if len(ids) > 0 { // Terms may over-report; only live ones are conformant output
			out = append(out, fmt.Sprintf("%q", term))
		}
		return err
	})
	return strings.Join(out, " ") + "\n", err
}

func adjacent(sn graphstore.Snapshot, d *datadriven.TestData) (string, error) {
	id, _ := argInt(d, "id")
	ix := graphstore.IdxOut
	if argStr(d, "dir") == "in" {
		ix = graphstore.IdxIn
	}
	adj, err := sn.Adjacent(graphstore.ID(id), ix, nil)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, a := range adj {
		parts = append(parts, fmt.Sprintf("rel %d -> %d", a.Relation, a.Other))
	}
	if len(parts) == 0 {
		return "(none)\n", nil
	}
	return strings.Join(parts, "\n") + "\n", nil
}

func lookup(sn graphstore.Snapshot, d *datadriven.TestData) (string, error) {
	kind := graphstore.KindComponent
	if argStr(d, "kind") == "relation" {
		kind = graphstore.KindRelation
	}
	id, err := sn.LookupExternal(kind, argStr(d, "source"), argStr(d, "ext"))
	return fmt.Sprintf("%d\n", id), err
}

func feed(st graphstore.Store, d *datadriven.TestData) (string, error) {
	var from time.Time
	if s, ok := argInt(d, "from"); ok {
		from = At(s)
	}
	f, err := st.Subscribe(from)
	if err != nil {
		return "", err
	}
	defer f.Close()
	last := st.LastCommit()
	var b strings.Builder
	for !last.IsZero() && last.After(from) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ev, err := f.Next(ctx)
		cancel()
		if err != nil {
			return "", err
		}
		b.WriteString(FormatCommit(ev))
		if !ev.Time.Before(last) {
			break
		}
	}
	return b.String(), nil
}

func compact(st graphstore.Store, d *datadriven.TestData) (string, error) {
	s, _ := argInt(d, "now")
	stats, err := st.Compact(context.Background(), At(s))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("horizon=%s versions=%d commits=%d\n", Sec(stats.Horizon), stats.Versions, stats.Commits), nil
}

// SortedIDs is a helper for tests comparing id sets.
func SortedIDs(ids []graphstore.ID) []graphstore.ID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
