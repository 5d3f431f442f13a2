package telpebble

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/internal/tsz"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/telemetry/teltest"
)

func testOpen(t *testing.T, dir string, o Options) *Store {
	t.Helper()
	o.NoSync = true
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dump(t *testing.T, s *Store, q telemetry.MetricQuery) string {
	t.Helper()
	set, err := s.SelectMetrics(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	out, err := teltest.FormatSeries(set)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func series(name string, samples ...telemetry.Sample) telemetry.SeriesSamples {
	return telemetry.SeriesSamples{Series: telemetry.Series{Name: name, Tags: telemetry.Tags{{Key: "host", Value: "a"}}}, Samples: samples}
}

const hour = int64(time.Hour / time.Millisecond)

// TestReplay: samples appended but not sealed survive a crash (the
// database closed without the seal Close does) through the log.
func TestReplay(t *testing.T) {
	dir := t.TempDir()
	s := testOpen(t, dir, Options{})
	ctx := context.Background()
	if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 0, V: 1}, telemetry.Sample{T: 5 * hour, V: 2})}); err != nil {
		t.Fatal(err)
	}
	// The first window is sealed (5 h passed it); the third is in the head.
	if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 5*hour + 1, V: 3})}); err != nil {
		t.Fatal(err)
	}
	q := telemetry.MetricQuery{Start: 0, End: 10 * hour}
	want := dump(t, s, q)
	if err := s.db.Close(); err != nil { // a crash: no seal
		t.Fatal(err)
	}
	s = testOpen(t, dir, Options{})
	if got := dump(t, s, q); got != want {
		t.Fatalf("after replay:\n%s\nwant:\n%s", got, want)
	}
	if s.head.samples != 2 {
		t.Fatalf("head holds %d samples after replay, want 2", s.head.samples)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = testOpen(t, dir, Options{})
	defer s.Close()
	if s.head.samples != 0 {
		t.Fatalf("head holds %d samples after a clean close, want 0", s.head.samples)
	}
	if got := dump(t, s, q); got != want {
		t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
	}
}

func countKeys(t *testing.T, s *Store, tag byte) int {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tag}, UpperBound: []byte{tag + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	return n
}

// TestCompactMergesAndExpires: late samples leave a window with several
// chunks until compaction merges them; retention drops old windows, old
// event days and series with nothing left.
func TestCompactMergesAndExpires(t *testing.T) {
	now := time.UnixMilli(100 * hour)
	s := testOpen(t, t.TempDir(), Options{MetricRetention: 50 * time.Hour, EventRetention: 48 * time.Hour})
	defer s.Close()
	ctx := context.Background()
	for _, b := range [][]telemetry.Sample{
		{{T: 10 * hour, V: 1}, {T: 10*hour + 10, V: 2}},
		{{T: 20 * hour, V: 3}},
		{{T: 10*hour + 5, V: 1.5}}, // late: window 5 again
		{{T: 90 * hour, V: 4}},
	} {
		if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", b...)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("old", telemetry.Sample{T: 10 * hour, V: 9})}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, []telemetry.Event{{ID: "a", Time: 10 * hour, Name: "old"}, {ID: "b", Time: 90 * hour, Name: "new"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	q := telemetry.MetricQuery{Start: 0, End: 100 * hour}
	before := dump(t, s, q)
	if n := countKeys(t, s, tagChunk); n != 5 {
		t.Fatalf("%d chunks before compaction, want 5 (window 5 twice)", n)
	}
	if err := s.Compact(ctx, time.UnixMilli(0)); err != nil { // nothing expires yet
		t.Fatal(err)
	}
	if n := countKeys(t, s, tagChunk); n != 4 {
		t.Fatalf("%d chunks after merging, want 4", n)
	}
	if got := dump(t, s, q); got != before {
		t.Fatalf("merging changed the data:\n%s\nwant:\n%s", got, before)
	}
	if err := s.Compact(ctx, now); err != nil {
		t.Fatal(err)
	}
	want := "m{host=\"a\"}: 324000=4\n"
	if got := dump(t, s, q); got != want {
		t.Fatalf("after retention:\n%s\nwant:\n%s", got, want)
	}
	if _, ok := s.idx.byKey[(&telemetry.Series{Name: "old", Tags: telemetry.Tags{{Key: "host", Value: "a"}}}).Key()]; ok {
		t.Fatal("a series with no data left is still indexed")
	}
	it, err := s.SelectEvents(ctx, telemetry.EventQuery{Start: 0, End: 100 * hour})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var names []string
	for it.Next() {
		names = append(names, it.At().Name)
	}
	if len(names) != 1 || names[0] != "new" {
		t.Fatalf("events after retention: %v", names)
	}
}

// TestFormatVersion1: a directory written before chunks carried summaries
// (version 1) is read, its chunks decoded, and marked version 2 once opened
// for writing (3 once the sample log is written); a version this build
// does not know is refused.
func TestFormatVersion1(t *testing.T) {
	dir := t.TempDir()
	s := testOpen(t, dir, Options{})
	ctx := context.Background()
	var samples []telemetry.Sample
	for i := range int64(1000) {
		samples = append(samples, telemetry.Sample{T: i * 30_000, V: float64(i % 17)})
	}
	if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", samples...)}); err != nil {
		t.Fatal(err)
	}
	q := telemetry.MetricQuery{Start: 0, End: 10 * hour, Agg: &telemetry.Aggregation{Method: telemetry.Max}}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = testOpen(t, dir, Options{})
	want := dump(t, s, q)
	if SummarizedChunks(s) == 0 {
		t.Fatal("max over whole windows decoded every chunk")
	}
	// Rewrite the store as version 1 wrote it.
	b := s.db.NewBatch()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagChunk}, UpperBound: []byte{tagChunk + 1}})
	if err != nil {
		t.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		old, err := tsz.WithoutSummary(it.Value())
		if err != nil {
			t.Fatal(err)
		}
		b.Set(slices.Clone(it.Key()), old, nil)
	}
	it.Close()
	setMeta(b, "schema", 1)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = testOpen(t, dir, Options{})
	if got := dump(t, s, q); got != want {
		t.Fatalf("version 1 data:\n%s\nwant:\n%s", got, want)
	}
	if n := SummarizedChunks(s); n != 0 {
		t.Fatalf("%d chunks of version 1 answered by summaries they do not have", n)
	}
	if v, _, _ := s.getMeta("schema"); v != summarySchema {
		t.Fatalf("schema %d after a writable open, want %d", v, summarySchema)
	}
	if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 11 * hour, V: 1})}); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.getMeta("schema"); v != schemaVersion {
		t.Fatalf("schema %d after an append, want %d", v, schemaVersion)
	}
	if err := s.db.Set(metaKey("schema"), binary.BigEndian.AppendUint64(nil, schemaVersion+1), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(dir, Options{NoSync: true})
	if err == nil || !strings.Contains(err.Error(), "data format version 4, this build reads versions 1 to 3") {
		t.Fatalf("a newer format opened: %v", err)
	}
}

// TestUnsortedTags: a series appended with its tags out of order is the
// series of those tags in order, not a new one each time.
func TestUnsortedTags(t *testing.T) {
	s := testOpen(t, t.TempDir(), Options{})
	defer s.Close()
	ctx := context.Background()
	tags := telemetry.Tags{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}}
	for i := range int64(3) {
		ss := telemetry.SeriesSamples{Series: telemetry.Series{Name: "m", Tags: slices.Clone(tags)}, Samples: []telemetry.Sample{{T: i, V: 1}}}
		if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{ss}); err != nil {
			t.Fatal(err)
		}
	}
	want := "m{a=\"2\",z=\"1\"}: 0=1 0.001=1 0.002=1\n"
	if got := dump(t, s, telemetry.MetricQuery{Start: 0, End: hour}); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestManyWindows: a read over more windows than it keeps iterators for
// (maxWindowIters) finds every chunk, whichever window a series starts in.
func TestManyWindows(t *testing.T) {
	s := testOpen(t, t.TempDir(), Options{})
	defer s.Close()
	ctx := context.Background()
	const windows = maxWindowIters + 20
	var want strings.Builder
	for k, from := range []int64{0, maxWindowIters - 1, windows - 1} {
		var xs []telemetry.Sample
		for w := from; w < windows; w++ {
			xs = append(xs, telemetry.Sample{T: w*WindowMs + 1000, V: float64(w)})
		}
		ss := series(fmt.Sprint("m", k), xs...)
		if err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{ss}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&want, "%s: %d samples, last %g\n", ss.Series.Name, len(xs), xs[len(xs)-1].V)
	}
	must(t, s.Flush())
	set, err := s.SelectMetrics(ctx, telemetry.MetricQuery{Start: 0, End: windows * WindowMs})
	must(t, err)
	var got strings.Builder
	for set.Next() {
		ps := set.At().Points
		fmt.Fprintf(&got, "%s: %d samples, last %g\n", set.At().Name, len(ps), ps[len(ps)-1].V)
	}
	must(t, set.Err())
	set.Close()
	if got.String() != want.String() {
		t.Fatalf("got\n%s\nwant\n%s", got.String(), want.String())
	}
}

// TestHeadReuseSparesReaders: a sealed window's head memory is reused for
// new head chunks only when no read was open as it was sealed; a read open
// then still sees the samples it began with.
func TestHeadReuseSparesReaders(t *testing.T) {
	s := testOpen(t, t.TempDir(), Options{})
	defer s.Close()
	ctx := context.Background()
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 1000, V: 1}, telemetry.Sample{T: 2000, V: 2})}))
	q := telemetry.MetricQuery{Start: 0, End: hour}
	want := dump(t, s, q)
	set, err := s.SelectMetrics(ctx, q)
	must(t, err)
	// Seals window 0 while the read is open, then starts head chunks.
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 3 * hour, V: 3})}))
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("n", telemetry.Sample{T: 3*hour + 1, V: 7}, telemetry.Sample{T: 3*hour + 2, V: 8})}))
	got, err := teltest.FormatSeries(set)
	must(t, err)
	if got != want {
		t.Fatalf("a read open across a seal saw\n%s\nwant\n%s", got, want)
	}
	// With no read open, the next seal's memory is kept for reuse.
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 6 * hour, V: 4})}))
	if len(s.head.free) == 0 {
		t.Fatal("no head memory kept for reuse after a seal with no read open")
	}
}

// TestSeriesForgottenThenBack: a series retention forgot and an agent
// sends again (in the same place of its append) is a series again.
func TestSeriesForgottenThenBack(t *testing.T) {
	s := testOpen(t, t.TempDir(), Options{MetricRetention: 10 * time.Hour})
	defer s.Close()
	ctx := context.Background()
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: hour, V: 1})}))
	must(t, s.Flush())
	must(t, s.Compact(ctx, time.UnixMilli(100*hour)))
	if n := len(s.idx.all); n != 0 {
		t.Fatalf("%d series after retention, want 0", n)
	}
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 95 * hour, V: 2})}))
	want := "m{host=\"a\"}: 342000=2\n"
	if got := dump(t, s, telemetry.MetricQuery{Start: 0, End: 100 * hour}); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// TestFormatVersion2Log: a directory of format 2 whose head samples are in
// table 0x05 (the log before the sample log) is replayed from it, stays
// format 2 until an append writes the sample log, and loses its 0x05
// records when their window is sealed.
func TestFormatVersion2Log(t *testing.T) {
	dir := t.TempDir()
	s := testOpen(t, dir, Options{})
	ctx := context.Background()
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 1000, V: 1})}))
	must(t, s.Close())
	s = testOpen(t, dir, Options{})
	// Rewrite it as format 2 left it after a crash: a sample of series 1
	// in window 0 logged in table 0x05, no sample log.
	var rec walRecord
	rec.add(1, telemetry.Sample{T: 2000, V: 2})
	b := s.db.NewBatch()
	b.Set(walKey(0, 1), rec.bytes(), nil)
	setMeta(b, "schema", 2)
	must(t, b.Commit(pebble.Sync))
	must(t, s.db.Close())
	must(t, os.RemoveAll(s.log.dir))

	s = testOpen(t, dir, Options{})
	q := telemetry.MetricQuery{Start: 0, End: hour}
	if got, want := dump(t, s, q), "m{host=\"a\"}: 1=1 2=2\n"; got != want {
		t.Fatalf("format 2's log replayed:\n%s\nwant\n%s", got, want)
	}
	if v, _, _ := s.getMeta("schema"); v != summarySchema {
		t.Fatalf("schema %d before an append, want %d", v, summarySchema)
	}
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: 3000, V: 3})}))
	must(t, s.Flush())
	if v, _, _ := s.getMeta("schema"); v != schemaVersion {
		t.Fatalf("schema %d after an append, want %d", v, schemaVersion)
	}
	if n := countKeys(t, s, tagWAL); n != 0 {
		t.Fatalf("%d records left in table 0x05 after the seal", n)
	}
	must(t, s.Close())
	s = testOpen(t, dir, Options{})
	defer s.Close()
	if got, want := dump(t, s, q), "m{host=\"a\"}: 1=1 2=2 3=3\n"; got != want {
		t.Fatalf("after reopening:\n%s\nwant\n%s", got, want)
	}
}

// walRecord writes table 0x05 records as format 2 did (for
// TestFormatVersion2Log). It accumulates the samples of one append that fall in one window:
// n, then per sample the series id, the time (delta to the previous
// sample's) and the value.
type walRecord struct {
	b     []byte
	n     int
	prevT int64
}

func (r *walRecord) add(id uint64, x telemetry.Sample) {
	if len(r.b) == 0 {
		r.reset()
	}
	r.b = binary.AppendUvarint(r.b, id)
	r.b = binary.AppendVarint(r.b, x.T-r.prevT)
	r.b = kv.AppendFloat(r.b, x.V)
	r.prevT = x.T
	r.n++
}

// walCountRoom is the room a record keeps before its samples for their
// count, which is known last.
const walCountRoom = binary.MaxVarintLen64

func (r *walRecord) reset() {
	r.b = append(r.b[:0], make([]byte, walCountRoom)...)
	r.n, r.prevT = 0, 0
}

// bytes returns the record, which the next reset overwrites.
func (r *walRecord) bytes() []byte {
	var n [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(n[:], uint64(r.n))
	start := walCountRoom - k
	copy(r.b[start:], n[:k])
	return r.b[start:]
}
