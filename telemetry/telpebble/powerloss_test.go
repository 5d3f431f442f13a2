package telpebble

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/internal/crashtest"
	"github.com/tetrahq/tetra/telemetry"
)

// TestPowerLoss cuts the power under appends to a store on Pebble's
// crash-simulating file system: the sample log rotates every few records,
// windows are sealed as time moves on (some again, by late samples), and
// files whose samples are all in chunks are deleted. Every image must
// recover with every acknowledged append whole, and any later one whole
// or not at all.
func TestPowerLoss(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { powerLoss(t, seed) })
	}
}

func powerLoss(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 5))
	batches := powerLossBatches(120)
	fs := vfs.NewCrashableMem()
	s, err := Open("/db", Options{FS: fs, ErrorLog: discard{}})
	if err != nil {
		t.Fatal(err)
	}
	s.log.segmentBytes = 700 // about four records: files and windows do not align
	// Cuts at random moments, and one after every append (with the
	// timing of a loaded machine, the random ones may be few).
	var atAppends []crashtest.Image
	images := crashtest.Run(t, r, seed, fs, time.Millisecond, func(ack func(int)) error {
		rr := rand.New(rand.NewPCG(seed, 6))
		for i, b := range batches {
			if err := s.AppendMetrics(context.Background(), b); err != nil {
				return fmt.Errorf("append %d: %w", i, err)
			}
			ack(i)
			atAppends = append(atAppends, crashtest.Image{Acked: i, FS: fs.CrashClone(vfs.CrashCloneCfg{
				UnsyncedDataPercent: rr.IntN(101), RNG: rand.New(rand.NewPCG(seed, uint64(i))),
			})})
		}
		return nil
	})
	images = append(images, atAppends...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, img := range images {
		checkPowerLossImage(t, img.FS, img.Acked, batches)
	}
	t.Logf("%d power cuts over %d appends", len(images), len(batches))
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// powerLossBatches are n appends of three series, 20 minutes apart, each
// of five samples a second apart; every seventh also has a late sample for
// a window sealed already. No two samples of a series share a time, and
// every value names its append.
func powerLossBatches(n int) [][]telemetry.SeriesSamples {
	const step, base = 20 * 60 * 1000, 10 * hour
	out := make([][]telemetry.SeriesSamples, n)
	for i := range n {
		for k := range 3 {
			var xs []telemetry.Sample
			for j := range 5 {
				xs = append(xs, telemetry.Sample{T: base + int64(i)*step + int64(j)*1000, V: float64(i*100 + k*10 + j)})
			}
			if i%7 == 6 {
				xs = append(xs, telemetry.Sample{T: base + int64(i-9)*step + 30_000, V: float64(i*100 + k*10 + 9)})
			}
			ser := telemetry.Series{Name: "m", Tags: telemetry.Tags{{Key: "k", Value: fmt.Sprint(k)}}}
			out[i] = append(out[i], telemetry.SeriesSamples{Series: ser, Samples: xs})
		}
	}
	return out
}

func checkPowerLossImage(t *testing.T, fs *vfs.MemFS, acked int, batches [][]telemetry.SeriesSamples) {
	t.Helper()
	s, err := Open("/db", Options{FS: fs, ErrorLog: discard{}})
	if err != nil {
		t.Fatalf("recovering with append %d acknowledged: %v", acked, err)
	}
	defer s.Close()
	set, err := s.SelectMetrics(context.Background(), telemetry.MetricQuery{Start: 0, End: 100 * hour})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{} // series and time → value
	for set.Next() {
		for _, p := range set.At().Points {
			got[fmt.Sprintf("%s@%d", set.At().Tags, p.T)] = p.V
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	set.Close()
	for i, b := range batches {
		found, missing := 0, 0
		for _, ss := range b {
			for _, x := range ss.Samples {
				k := fmt.Sprintf("%s@%d", ss.Series.Tags, x.T)
				if v, ok := got[k]; !ok {
					missing++
				} else if v != x.V {
					t.Fatalf("with append %d acknowledged, %s = %g, want %g", acked, k, v, x.V)
				} else {
					found++
					delete(got, k)
				}
			}
		}
		switch {
		case i <= acked && missing > 0:
			t.Fatalf("append %d was acknowledged (%d), but %d of its samples are lost", i, acked, missing)
		case found > 0 && missing > 0:
			t.Fatalf("append %d survived in part: %d samples found, %d lost (acknowledged: %d)", i, found, missing, acked)
		}
	}
	if len(got) > 0 {
		t.Fatalf("samples no append wrote: %v", got)
	}
}

// TestLogTornTail: a record cut short (a write a crash interrupted) ends
// its file: the appends before it are replayed, it is not, and the store
// appends on in a new file that a later replay reads too.
func TestLogTornTail(t *testing.T) {
	dir := t.TempDir()
	s := testOpen(t, dir, Options{})
	ctx := context.Background()
	for i := range int64(3) {
		must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: hour + i, V: float64(i)})}))
	}
	must(t, s.db.Close()) // a crash: no seal
	files, err := listLog(vfs.Default, s.log.dir)
	must(t, err)
	if len(files) != 1 {
		t.Fatalf("%d log files, want 1", len(files))
	}
	name := vfs.Default.PathJoin(s.log.dir, files[0].name)
	st, err := vfs.Default.Stat(name)
	must(t, err)
	must(t, os.Truncate(name, st.Size()-3)) // the third record loses its last bytes

	s = testOpen(t, dir, Options{})
	q := telemetry.MetricQuery{Start: 0, End: 2 * hour}
	if got, want := dump(t, s, q), "m{host=\"a\"}: 3600=0 3600.001=1\n"; got != want {
		t.Fatalf("after a torn record:\n%s\nwant\n%s", got, want)
	}
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", telemetry.Sample{T: hour + 5, V: 5})}))
	must(t, s.db.Close())
	s = testOpen(t, dir, Options{})
	defer s.Close()
	if got, want := dump(t, s, q), "m{host=\"a\"}: 3600=0 3600.001=1 3600.005=5\n"; got != want {
		t.Fatalf("after appending on:\n%s\nwant\n%s", got, want)
	}
}

// TestLogRecordLimit: an append too large for one log record is refused
// whole with a clear error, before anything is written, and the store
// appends on.
func TestLogRecordLimit(t *testing.T) {
	s := testOpen(t, t.TempDir(), Options{})
	defer s.Close()
	s.log.maxRecord = 1000
	ctx := context.Background()
	var xs []telemetry.Sample
	for i := range int64(100) {
		xs = append(xs, telemetry.Sample{T: hour + i, V: 1})
	}
	err := s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("big", xs...)})
	if !errors.Is(err, telemetry.ErrInvalid) || !strings.Contains(err.Error(), "split it") {
		t.Fatalf("an append past the log's record limit: %v", err)
	}
	must(t, s.AppendMetrics(ctx, []telemetry.SeriesSamples{series("m", xs[:3]...)}))
	want := "m{host=\"a\"}: 3600=1 3600.001=1 3600.002=1\n"
	if got := dump(t, s, telemetry.MetricQuery{Start: 0, End: 2 * hour}); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
