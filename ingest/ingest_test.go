package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/ingest"
)

// fixtures is the repository's shared topology test data.
const fixtures = "../testdata/topology"

// stores are the backends every file runs against, with the same expected
// output.
var stores = []struct {
	name string
	open func(t *testing.T) graphstore.Store
}{
	{"memstore", func(t *testing.T) graphstore.Store {
		return memstore.New(memstore.Options{Now: graphtest.Clock})
	}},
	{"pebblestore", func(t *testing.T) graphstore.Store {
		s, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// TestIngest runs the datadriven files under testdata. Commands:
//
//	load [file=F] [time=S] [source=SRC] [max=BYTES]   decode F (a file of
//	    ../testdata/topology, or the command's input) and apply it at S
//	    seconds after graphtest.Base: the commit and per-source summary, or
//	    the errors
//	decode [file=F] [source=SRC] [max=BYTES] [props]  the decoded topologies
//	    (with each element's properties when props is given)
//	graph [at=S] [short]                              every live element (short:
//	    without component properties)
//	snapshots                                         sources with an open snapshot
//	warnings                                          what decoding the input accepts
//	    but reports (duplicate keys and external ids, invalid UTF-8)
//	restart                                           a new Applier over the same store,
//	    which reads the open snapshots from the store's writer state
func TestIngest(t *testing.T) {
	// The files directly under testdata; testdata/fuzz holds the fuzzer's
	// inputs.
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			for _, e := range entries {
				if e.IsDir() {
					continue
				}
				t.Run(e.Name(), func(t *testing.T) {
					st := s.open(t)
					defer st.Close()
					ap, err := ingest.OpenApplier(st)
					if err != nil {
						t.Fatal(err)
					}
					h := &harness{st: st, ap: ap}
					datadriven.RunTest(t, filepath.Join("testdata", e.Name()), h.exec)
				})
			}
		})
	}
}

type harness struct {
	st graphstore.Store
	ap *ingest.Applier
}

func (h *harness) exec(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "load":
		return h.load(t, d)
	case "decode":
		topos, err := decode(t, d)
		if err != nil {
			return formatError(err)
		}
		return formatTopologies(topos, d.HasArg("props"))
	case "graph":
		var at time.Time
		if d.HasArg("at") {
			at = graphtest.At(intArg(t, d, "at"))
		}
		sn, err := h.st.Snapshot(at)
		if err != nil {
			return formatError(err)
		}
		defer sn.Close()
		out, err := graphtest.DumpGraph(sn)
		if err != nil {
			return formatError(err)
		}
		if d.HasArg("short") {
			out = dropProps(out)
		}
		return out
	case "warnings":
		var dc ingest.Decoder
		_, ws, err := dc.DecodeChecked([]byte(d.Input))
		if err != nil {
			return formatError(err)
		}
		if ws.Len() == 0 {
			return "(none)\n"
		}
		var b strings.Builder
		for _, w := range ws.List {
			b.WriteString("warning: " + w.Error() + "\n")
		}
		if ws.Dropped > 0 {
			fmt.Fprintf(&b, "(and %d more warnings)\n", ws.Dropped)
		}
		return b.String()
	case "restart":
		ap, err := ingest.OpenApplier(h.st)
		if err != nil {
			return formatError(err)
		}
		h.ap = ap
		return ""
	case "snapshots":
		open := h.ap.OpenSnapshots()
		if len(open) == 0 {
			return "(none)\n"
		}
		return strings.Join(open, "\n") + "\n"
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return ""
}

func (h *harness) load(t *testing.T, d *datadriven.TestData) string {
	before := h.st.LastCommit()
	topos, err := decode(t, d)
	var sum *ingest.Summary
	if err == nil {
		var at time.Time
		if d.HasArg("time") {
			at = graphtest.At(intArg(t, d, "time"))
		}
		sum, err = h.ap.Apply(context.Background(), topos, at)
	}
	if err != nil {
		if !h.st.LastCommit().Equal(before) {
			t.Errorf("%s: a failed load committed", d.Pos)
		}
		return formatError(err)
	}
	var b strings.Builder
	if c := sum.Commit; c != nil {
		fmt.Fprintf(&b, "commit at %s: added=%d changed=%d removed=%d\n", graphtest.Sec(c.Time), c.Added, c.Changed, c.Removed)
	} else {
		b.WriteString("nothing to commit\n")
	}
	for _, s := range sum.Sources {
		b.WriteString(s.String() + "\n")
	}
	for _, s := range sum.Streams {
		b.WriteString(s.String() + "\n")
	}
	return b.String()
}

func decode(t *testing.T, d *datadriven.TestData) ([]ingest.Topology, error) {
	var dc ingest.Decoder
	if d.HasArg("source") {
		d.ScanArgs(t, "source", &dc.DefaultSource)
	}
	if d.HasArg("max") {
		dc.MaxBytes = intArg(t, d, "max")
	}
	if !d.HasArg("file") {
		return dc.DecodeBytes([]byte(d.Input))
	}
	var file string
	d.ScanArgs(t, "file", &file)
	f, err := os.Open(filepath.Join(fixtures, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return dc.Decode(f)
}

func intArg(t *testing.T, d *datadriven.TestData, key string) int64 {
	var s string
	d.ScanArgs(t, key, &s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.Fatalf(t, "%s=%s: %v", key, s, err)
	}
	return n
}

// formatError prints every error of an *ingest.ErrorList on its own line.
// Store errors print as their class, so that these files do not depend on
// graphstore's wording.
func formatError(err error) string {
	if errors.Is(err, graphstore.ErrTimeBackwards) {
		return "error: graphstore.ErrTimeBackwards\n"
	}
	var l *ingest.ErrorList
	if !errors.As(err, &l) {
		return "error: " + err.Error() + "\n"
	}
	var b strings.Builder
	for _, e := range l.Errs {
		b.WriteString("error: " + e.Error() + "\n")
	}
	if l.Dropped > 0 {
		fmt.Fprintf(&b, "(and %d more errors)\n", l.Dropped)
	}
	return b.String()
}

func formatTopologies(topos []ingest.Topology, props bool) string {
	if len(topos) == 0 {
		return "(no topologies)\n"
	}
	var b strings.Builder
	for _, tp := range topos {
		fmt.Fprintf(&b, "topology %q source=%q start=%t stop=%t\n", tp.Path, tp.Source, tp.StartSnapshot, tp.StopSnapshot)
		for _, c := range tp.Components {
			d := c.Data
			fmt.Fprintf(&b, "  component %q name=%q type=%q layer=%q domain=%q env=%q ids=%q labels=%q\n",
				c.ExternalID, d.Name, d.Type, d.Layer, d.Domain, d.Environments, d.Identifiers, d.Labels)
			if props && len(d.Properties) > 0 {
				fmt.Fprintf(&b, "    props=%s\n", d.Properties)
			}
		}
		for _, r := range tp.Relations {
			d := r.Data
			fmt.Fprintf(&b, "  relation %q type=%q %q->%q dep=%s ids=%q labels=%q\n",
				r.ExternalID, d.Type, d.SourceRef, d.TargetRef, d.Dependency, d.Identifiers, d.Labels)
			if props && len(d.Properties) > 0 {
				fmt.Fprintf(&b, "    props=%s\n", d.Properties)
			}
		}
		for _, id := range tp.DeleteIDs {
			fmt.Fprintf(&b, "  delete %q\n", id)
		}
		for _, s := range tp.ReplaceStreams {
			fmt.Fprintf(&b, "  replace stream %s\n", s)
		}
		for _, c := range tp.CheckStates {
			if c.Delete {
				fmt.Fprintf(&b, "  delete check %s/%s\n", c.Stream, c.ID)
				continue
			}
			fmt.Fprintf(&b, "  check %s/%s name=%q state=%s on=%q message=%q\n",
				c.Stream, c.ID, c.Data.Name, c.Data.State, c.Data.Identifier, c.Data.Message)
		}
	}
	return b.String()
}

// dropProps cuts the properties off component lines of a graph dump.
func dropProps(dump string) string {
	lines := strings.SplitAfter(dump, "\n")
	for i, l := range lines {
		if j := strings.Index(l, " props={"); j >= 0 && strings.HasPrefix(l, "component ") {
			lines[i] = l[:j] + "\n"
		}
	}
	return strings.Join(lines, "")
}
