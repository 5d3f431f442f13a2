package benchgraph

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/internal/topogen"
)

// TestProgressLines: a line per report when the interval allows, with
// done/total, the rate, an estimate of the time left (none at the end)
// and the process's resources; reports inside the interval are dropped
// except a phase's last.
func TestProgressLines(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, time.Nanosecond)
	time.Sleep(2 * time.Millisecond)
	p.report(topogen.Progress{Phase: topogen.PhaseChurn, Done: 1, Total: 4, Versions: 100})
	time.Sleep(2 * time.Millisecond)
	p.report(topogen.Progress{Phase: topogen.PhaseChurn, Done: 2, Total: 4, Versions: 200})
	p.every = time.Hour
	p.report(topogen.Progress{Phase: topogen.PhaseChurn, Done: 3, Total: 4, Versions: 300}) // inside the interval
	p.report(topogen.Progress{Phase: topogen.PhaseChurn, Done: 4, Total: 4, Versions: 400}) // the phase's last
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "churn 1/4 hours (25.0%), ") {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), b.String())
	}
	mid := regexp.MustCompile(`^churn 2/4 hours \(50\.0%\), \d+ versions/s \([\d.]+ hours/s\), ETA \d+\S*, elapsed \S+ \(phase \S+\)`)
	if !mid.MatchString(lines[1]) {
		t.Errorf("line %q does not match %s", lines[1], mid)
	}
	if !strings.HasPrefix(lines[2], "churn 4/4 hours (100.0%)") || strings.Contains(lines[2], "ETA") {
		t.Errorf("last line %q: want 4/4 and no ETA", lines[2])
	}
	if _, _, ok := memory(); ok && !strings.Contains(lines[2], "RSS ") {
		t.Errorf("last line %q: no RSS", lines[2])
	}
}
