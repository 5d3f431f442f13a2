package tracepebble

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// TestKeyLayout writes one span and prints every key decoded, beside
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
		if err := s.AppendSpans(context.Background(), []traces.Span{sp}); err != nil {
			t.Fatal(err)
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
	case tagSpan:
		tid, rest, _ := kv.Escaped(rest)
		sid, _, _ := kv.Escaped(rest)
		s, _ := decodeSpan(v)
		return fmt.Sprintf("span day=%d trace=%s span=%s = %s %q start=%d dur=%d ids=%v", day, tid, sid, s.Service, s.Name, s.Start, s.Duration, s.Identifiers)
	case tagTime:
		r, _ := readRef(rest)
		return fmt.Sprintf("time day=%d start=%d trace=%s span=%s = dur %d", day, r.start, r.tid, r.sid, binary.BigEndian.Uint64(v))
	case tagTerm:
		term, rest, _ := kv.Escaped(rest)
		r, _ := readRef(rest)
		return fmt.Sprintf("term day=%d %q start=%d trace=%s span=%s = dur %d", day, term, r.start, r.tid, r.sid, binary.BigEndian.Uint64(v))
	case tagSvcDur:
		svc, rest, _ := kv.Escaped(rest)
		r, _ := readRef(rest[8:])
		return fmt.Sprintf("service-duration day=%d %s dur=%d start=%d trace=%s span=%s", day, svc, binary.BigEndian.Uint64(rest), r.start, r.tid, r.sid)
	}
	return fmt.Sprintf("unknown %x", k)
}
