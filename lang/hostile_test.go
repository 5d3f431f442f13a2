package lang

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestHostile feeds inputs built to hurt a parser: each must end quickly
// in an error that names the limit, or parse.
func TestHostile(t *testing.T) {
	for _, tc := range []struct {
		name, src, limit string
	}{
		{"deep parentheses", strings.Repeat("(", 30_000) + `name = "a"` + strings.Repeat(")", 30_000), "MaxDepth"},
		{"unclosed parentheses", strings.Repeat("(", 30_000), "MaxDepth"},
		{"deep functions", strings.Repeat("withNeighborsOf(components = (", 1_000) + `name = "a"` + strings.Repeat("))", 1_000), "MaxDepth"},
		{"a run of NOTs", strings.Repeat("NOT ", 15_000) + `name = "a"`, "MaxDepth"},
		{"a megabyte", `name = "` + strings.Repeat("a", 1<<20) + `"`, "MaxBytes"},
		{"many tokens", strings.Repeat("a=1 OR ", 6_000) + "a=1", "MaxTokens"},
		{"many commas", "name IN (" + strings.Repeat(`"a",`, 15_000) + `"a")`, "MaxTokens"},
		{"unterminated string at the end of a large input", strings.Repeat(`name = "a" OR `, 1_000) + `name = "a`, ""},
	} {
		start := time.Now()
		_, err := Parse(tc.src)
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Errorf("%s: took %v", tc.name, elapsed)
		}
		errs := Errors(err)
		if len(errs) == 0 {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(errs[0].Message, tc.limit) {
			t.Errorf("%s: error %q does not name %s", tc.name, errs[0].Message, tc.limit)
		}
		if r := Render(tc.src, err); len(r) > 1000 {
			t.Errorf("%s: rendered error is %d bytes long", tc.name, len(r))
		}
	}
}

// TestLargeButValid parses queries at the edge of the default limits, and
// checks that the long chains they make print and compare.
func TestLargeButValid(t *testing.T) {
	for name, src := range map[string]string{
		"a long OR chain":  strings.Repeat("name=a OR ", 4_900) + "name=a",
		"a run of NOTs":    strings.Repeat("NOT ", 60) + `name = "a"`,
		"deep parentheses": strings.Repeat("(", 63) + `name = "a"` + strings.Repeat(")", 63),
		"a long IN list":   "name IN (" + strings.Repeat(`"a", `, 9_000) + `"a")`,
	} {
		stmt, err := Parse(src)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		checkRoundTrip(t, src, stmt)
	}
	lim := Limits{MaxTokens: 30_000}
	src := "name IN (" + strings.Repeat(`"a", `, 10_000) + `"a")`
	if _, err := ParseWithLimits(src, lim); err == nil || !strings.Contains(err.Error(), "MaxListValues") {
		t.Errorf("10,001 values: got %v, want a MaxListValues error", err)
	}
}

// TestLimitsDefaults checks that zero limits mean the defaults.
func TestLimitsDefaults(t *testing.T) {
	if got := (Limits{}).withDefaults(); got != DefaultLimits {
		t.Errorf("zero Limits = %+v, want %+v", got, DefaultLimits)
	}
	if got := (Limits{MaxDepth: 3}).withDefaults(); got.MaxDepth != 3 || got.MaxTokens != DefaultLimits.MaxTokens {
		t.Errorf("partial Limits = %+v", got)
	}
}

// TestConcurrentParse runs Parse from several goroutines and checks that
// each gets exactly what a lone Parse gets (the canonical print, or the
// same error): a parser with shared state would mix results up. Under go
// test -race it also finds unsynchronised sharing that happens to give
// the right answer.
func TestConcurrentParse(t *testing.T) {
	lines := readCorpus(t)
	outcome := func(q string) string {
		stmt, err := Parse(q)
		if err != nil {
			return "error: " + err.Error()
		}
		return Format(stmt)
	}
	want := make([]string, len(lines))
	for i, c := range lines {
		want[i] = outcome(c.query)
	}
	const workers = 4
	errs := make(chan error, workers)
	for g := range workers {
		go func() {
			for k := range lines {
				i := (k + g*len(lines)/workers) % len(lines) // each worker starts elsewhere
				if got := outcome(lines[i].query); got != want[i] {
					errs <- fmt.Errorf("%q parsed concurrently gave\n%s\nalone\n%s", lines[i].query, got, want[i])
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
