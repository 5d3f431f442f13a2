package benchgraph

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/internal/topogen"
)

// progress prints where a generation stands, at most once per interval
// and at the end of each phase: done of total, the rate since the last
// line, the elapsed time, an estimate of the time left at that rate, and
// the process's CPU time and resident memory (Linux; left out elsewhere).
// The rate is the recent one, not the phase's average, because churn slows
// as the store grows and an average would promise too early an end.
type progress struct {
	w     io.Writer
	every time.Duration
	start time.Time // of the generation

	phase      topogen.Phase
	phaseStart time.Time
	lastAt     time.Time // of the last line
	lastDone   int
	lastVers   int
	seenAt     time.Time // of the last report, printed or not
	seenVers   int
}

func newProgress(w io.Writer, every time.Duration) *progress {
	now := time.Now()
	return &progress{w: w, every: every, start: now, phaseStart: now, lastAt: now, seenAt: now}
}

// report is a topogen.Generator's Progress function.
func (p *progress) report(pr topogen.Progress) {
	now := time.Now()
	if pr.Phase != p.phase {
		// The phase began when the last one's last batch was reported.
		p.phase, p.phaseStart, p.lastAt, p.lastDone, p.lastVers = pr.Phase, p.seenAt, p.seenAt, 0, p.seenVers
	}
	p.seenAt, p.seenVers = now, pr.Versions
	if now.Sub(p.lastAt) < p.every && pr.Done < pr.Total {
		return
	}
	dt := now.Sub(p.lastAt).Seconds()
	unit := "elements"
	if pr.Phase == topogen.PhaseChurn {
		unit = "hours"
	}
	line := fmt.Sprintf("%s %d/%d %s (%.1f%%)", pr.Phase, pr.Done, pr.Total, unit, 100*float64(pr.Done)/float64(max(pr.Total, 1)))
	if dt > 0 {
		rate := float64(pr.Done-p.lastDone) / dt
		line += fmt.Sprintf(", %.0f versions/s", float64(pr.Versions-p.lastVers)/dt)
		if pr.Phase == topogen.PhaseChurn {
			line += fmt.Sprintf(" (%.2f hours/s)", rate)
		}
		if left := pr.Total - pr.Done; left > 0 && rate > 0 {
			line += fmt.Sprintf(", ETA %s", (time.Duration(float64(left)/rate) * time.Second).Round(time.Second))
		}
	}
	line += fmt.Sprintf(", elapsed %s (phase %s)", now.Sub(p.start).Round(time.Second), now.Sub(p.phaseStart).Round(time.Second))
	fmt.Fprintln(p.w, line+p.resources())
	p.lastAt, p.lastDone, p.lastVers = now, pr.Done, pr.Versions
}

// resources is the process's CPU time and memory, as a line's tail.
func (p *progress) resources() string {
	var s string
	if cpu, ok := cpuTime(); ok {
		s += fmt.Sprintf(", CPU %s", cpu.Round(time.Second))
	}
	if rss, peak, ok := memory(); ok {
		s += fmt.Sprintf(", RSS %.2f GiB (peak %.2f)", gib(rss), gib(peak))
	}
	return s
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

// memory returns the process's resident and peak resident bytes, from
// /proc (false where there is none).
func memory() (rss, peak int64, ok bool) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			continue
		}
		switch string(f[0]) {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak, rss > 0
}

// cpuTime returns the process's user and system CPU time, from /proc
// (false where there is none). Clock ticks are 100 a second on every
// Linux the project runs on (USER_HZ).
func cpuTime() (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces; the fields after it
	// start past its closing parenthesis.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(raw[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, true
}
