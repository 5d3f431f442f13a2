package tracepebble

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// TestKeyLayout writes three spans of two traces, twice (dump), or
// appends committed as one group (group), and prints every key decoded,
// beside
// docs/storage-format.md (testdata/keys).
func TestKeyLayout(t *testing.T) {
	datadriven.RunTest(t, "testdata/keys", func(t *testing.T, d *datadriven.TestData) string {
		s, err := Open(t.TempDir(), Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sp := traces.Span{TraceID: "ab", SpanID: "01", Service: "checkout", Name: "PlaceOrder", Kind: "server", Status: "ok",
			Start: 90_000_000_000_000, Duration: 1500, Attributes: telemetry.Tags{{Key: "rpc.method", Value: "PlaceOrder"}}}
		child := sp
		child.SpanID, child.ParentID, child.Kind, child.Start, child.Duration = "02", "01", "client", sp.Start+100, 900
		child.Resource = telemetry.Tags{{Key: "host.name", Value: "node-1"}}
		other := sp
		other.TraceID, other.Start = "cd", sp.Start+1000
		switch d.Cmd {
		case "dump":
			// Sent twice, as a client retries: the same keys again.
			for range 2 {
				if err := s.AppendSpans(context.Background(), []traces.Span{sp, child, other}); err != nil {
					t.Fatal(err)
				}
			}
		case "group":
			// Three appends committed as one group: the trace ab in two of
			// them, cd in one, a third trace ef later; their posting lists
			// merged, newest first.
			later := other
			later.TraceID, later.Start, later.Name = "ef", sp.Start+2000, "Pay"
			var group []*prepared
			for i, in := range [][]traces.Span{{sp, child}, {other}, {later, sp}} {
				group = append(group, prepareAppend(s.db, in, uint64(i+1)))
			}
			b := s.db.NewBatch()
			groupBatch(b, group)
			if err := b.Commit(pebble.NoSync); err != nil {
				t.Fatal(err)
			}
			b.Close()
		default:
			d.Fatalf(t, "unknown command %s", d.Cmd)
		}
		it, err := s.db.NewIter(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		var b strings.Builder
		for it.First(); it.Valid(); it.Next() {
			b.WriteString(describe(it.Key(), it.Value()) + "\n")
		}
		return b.String()
	})
}

func describe(k, v []byte) string {
	if k[0] == tagMeta {
		return fmt.Sprintf("meta %s = %d", k[1:], binary.BigEndian.Uint64(v))
	}
	day, rest := kv.Time(k[1:]), k[9:]
	switch k[0] {
	case tagChunk:
		tid, rest, _ := kv.Escaped(rest)
		win := binary.BigEndian.Uint16(rest)
		c, err := decodeChunk(v, tid, day*dayNs+int64(win)*windowNs)
		if err != nil {
			return fmt.Sprintf("chunk %x: %v", k, err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "chunk day=%d trace=%s win=%d batch=%x (seq)", day, tid, win, rest[2:])
		for _, s := range c.spans {
			fmt.Fprintf(&b, "\n  span=%s %s %q start=%d dur=%d attrs=%v res=%v ids=%v", s.SpanID, s.Service, s.Name, s.Start, s.Duration, s.Attributes, s.Resource, s.Identifiers)
		}
		return b.String()
	case tagPost:
		term, rest, _ := kv.Escaped(rest)
		refs, err := readRefs(v, kv.Time(rest), nil)
		if err != nil {
			return fmt.Sprintf("posting %x: %v", k, err)
		}
		out := fmt.Sprintf("posting day=%d %q max=%d group=%x =", day, term, kv.Time(rest), rest[8:])
		for _, r := range refs {
			out += fmt.Sprintf(" {trace=%s batch=%x start=%d…%d}", r.tid, r.batch, r.min, r.max)
		}
		return out
	}
	return fmt.Sprintf("unknown %x", k)
}

// TestDurBucket checks that buckets grow with durations and fit in three
// digits, so that a duration range is a range of bucket terms.
func TestDurBucket(t *testing.T) {
	prev := 0
	for d := int64(0); d >= 0 && d < math.MaxInt64/3*2; d = d*9/8 + 1 {
		b := durBucket(d)
		if b < prev || b > 999 {
			t.Fatalf("durBucket(%d) = %d after %d", d, b, prev)
		}
		prev = b
	}
	if b := durBucket(math.MaxInt64); b != 247 {
		t.Fatalf("durBucket(max) = %d", b)
	}
}

// TestCorruptValues: every truncation of a chunk and of a posting list is
// an error, never a panic.
func TestCorruptValues(t *testing.T) {
	spans := []traces.Span{{TraceID: "ab", SpanID: "01", Service: "checkout", Name: "n", Status: "ok", Start: 90_000_000_000_000, Duration: 7,
		Attributes: telemetry.Tags{{Key: "k", Value: "v"}}, Resource: telemetry.Tags{{Key: "host.name", Value: "h"}}, Identifiers: []string{"urn:host:/h"}}}
	ws := winStart(spans[0].Start)
	c := encodeChunk(nil, spans, ws)
	p := appendRefs(nil, 100, []ref{{max: 100, min: 90, tid: "ab", batch: 7}, {max: 80, min: 80, tid: "abc", batch: 9}})
	if _, err := decodeChunk(c, "ab", ws); err != nil {
		t.Fatal(err)
	}
	if refs, err := readRefs(p, 100, nil); err != nil || len(refs) != 2 || refs[1].tid != "abc" || refs[1].batch != 9 {
		t.Fatalf("%v %v", refs, err)
	}
	for n := range len(c) {
		if _, err := decodeChunk(c[:n], "ab", ws); err == nil {
			t.Errorf("chunk cut at %d decodes", n)
		}
	}
	for n := range len(p) {
		if _, err := readRefs(p[:n], 100, nil); err == nil {
			t.Errorf("posting list cut at %d decodes", n)
		}
	}
}
