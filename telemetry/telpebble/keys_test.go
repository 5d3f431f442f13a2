package telpebble

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/internal/tsz"
	"github.com/tetrahq/tetra/telemetry"
)

// TestKeyLayout writes a little of everything and prints every key
// decoded, beside docs/storage-format.md (testdata/keys).
func TestKeyLayout(t *testing.T) {
	datadriven.RunTest(t, "testdata/keys", func(t *testing.T, d *datadriven.TestData) string {
		s := testOpen(t, t.TempDir(), Options{})
		defer s.Close()
		ctx := context.Background()
		cpu := telemetry.Series{Name: "cpu", Tags: telemetry.Tags{{Key: "host", Value: "web-1"}}}
		must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{{Series: cpu, Samples: []telemetry.Sample{{T: 1000, V: 0.5}, {T: 2000, V: 0.75}}}}))
		must(t, s.Flush())
		must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{{Series: cpu, Samples: []telemetry.Sample{{T: 1500, V: 0.6}, {T: 3 * hour, V: 1}}}}))
		must(t, s.AppendEvents(ctx, []telemetry.Event{{ID: "e1", Time: 5000, Name: "deploy", Category: "Deployments", Identifiers: []string{"urn:x:a"}}}))
		return dumpKeys(t, s.db) + dumpLog(t, s)
	})
}

// dumpLog prints the sample log's records decoded.
func dumpLog(t *testing.T, s *Store) string {
	files, err := listLog(s.o.FS, s.log.dir)
	must(t, err)
	var b strings.Builder
	for _, f := range files {
		must(t, readLog(s.o.FS, s.log.dir, []logFile{f}, func(seq uint64, payload []byte) error {
			var samples []string
			_, err := readRecord(payload, nil, func(id uint64, xs []telemetry.Sample) {
				for _, x := range xs {
					samples = append(samples, fmt.Sprintf("%d@%d=%g", id, x.T, x.V))
				}
			})
			fmt.Fprintf(&b, "log %s seq=%d = %v\n", f.name, seq, samples)
			return err
		}))
	}
	return b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func dumpKeys(t *testing.T, db *pebble.DB) string {
	it, err := db.NewIter(nil)
	must(t, err)
	defer it.Close()
	var b strings.Builder
	for it.First(); it.Valid(); it.Next() {
		b.WriteString(describeKey(it.Key(), it.Value()) + "\n")
	}
	must(t, it.Error())
	return b.String()
}

func describeKey(k, v []byte) string {
	switch k[0] {
	case tagMeta:
		return fmt.Sprintf("meta %s = %d", k[1:], binary.BigEndian.Uint64(v))
	case tagSeries:
		s, _ := decodeSeries(v)
		return fmt.Sprintf("series %d = %s{%s} ids=%v", binary.BigEndian.Uint64(k[1:]), s.Name, s.Tags, s.Identifiers)
	case tagLastWindow:
		return fmt.Sprintf("last-window series=%d = window %d", binary.BigEndian.Uint64(k[1:]), int64(binary.BigEndian.Uint64(v)))
	case tagChunk:
		h, _, _ := tsz.ReadHeader(v)
		samples, _ := tsz.Decode(nil, v)
		sum := "no summary"
		if h.HasSummary {
			x := h.Summary
			sum = fmt.Sprintf("summary values=%d min=%g max=%g sum=%g last=%g@%d", x.Values, x.Min, x.Max, x.Sum, x.Last, x.LastT)
		}
		return fmt.Sprintf("chunk window=%d series=%d seq=%d = %s %d samples %v %s", kv.Time(k[1:]), binary.BigEndian.Uint64(k[9:]),
			binary.BigEndian.Uint64(k[17:]), h.Encoding, h.Count, samples, sum)
	case tagWAL:
		var samples []string
		readWAL(v, func(id uint64, x telemetry.Sample) { samples = append(samples, fmt.Sprintf("%d@%d=%g", id, x.T, x.V)) })
		return fmt.Sprintf("wal window=%d seq=%d = %v", kv.Time(k[1:]), binary.BigEndian.Uint64(k[9:]), samples)
	case tagDirty:
		return fmt.Sprintf("dirty window=%d", kv.Time(k[1:]))
	case tagSealed:
		return fmt.Sprintf("sealed window=%d = log seq %d", kv.Time(k[1:]), binary.BigEndian.Uint64(v))
	case tagEvent:
		id, _, _ := kv.Escaped(k[9:])
		e, _ := decodeEvent(v)
		return fmt.Sprintf("event time=%d id=%s = %q %s ids=%v", kv.Time(k[1:]), id, e.Name, e.Category, e.Identifiers)
	case tagEventTerm:
		term, rest, _ := kv.Escaped(k[9:])
		id, _, _ := kv.Escaped(rest[8:])
		return fmt.Sprintf("event-term day=%d term=%q time=%d id=%s", kv.Time(k[1:]), term, kv.Time(rest), id)
	}
	return fmt.Sprintf("unknown %x", k)
}
