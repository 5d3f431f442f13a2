package lang

import (
	"strings"
	"testing"
	"time"
)

// TestParseDuration parses durations, and formats them back.
func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"500ms", 500 * time.Millisecond},
		{"0s", 0},
		{"5s", 5 * time.Second},
		{"5m", 5 * time.Minute},
		{"1h", time.Hour},
		{"2d", 48 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"1h30m", 90 * time.Minute},
		{"1m5ms", time.Minute + 5*time.Millisecond},
		{"1w2d3h4m5s6ms", 9*24*time.Hour + 3*time.Hour + 4*time.Minute + 5*time.Second + 6*time.Millisecond},
		{"15250w", 15250 * 7 * 24 * time.Hour},
	} {
		got, err := parseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if tc.want > 0 {
			if back, err := parseDuration(formatDuration(got)); err != nil || back != got {
				t.Errorf("formatDuration(%v) = %q does not parse back", got, formatDuration(got))
			}
		}
	}
	for _, bad := range []string{"", "5", "m", "5M", "5 m", "1.5h", "-5m", "+5m", "5mm", "5y", "h5", "15251w", "9223372036854775808ms", "99999999999999999999w"} {
		if d, err := parseDuration(bad); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

// TestFormatDuration checks the largest-units form, extremes included.
func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                 "0s",
		time.Millisecond:                  "1ms",
		1500 * time.Millisecond:           "1s500ms",
		90 * time.Minute:                  "1h30m",
		24 * time.Hour:                    "1d",
		8 * 24 * time.Hour:                "1w1d",
		-15 * time.Minute:                 "-15m",
		time.Nanosecond:                   "1ns",
		time.Duration(-1 << 63):           "-15250w1d23h47m16s854ms775808ns",
		time.Duration(1<<63 - 1):          "15250w1d23h47m16s854ms775807ns",
		time.Second + time.Microsecond:    "1s1000ns",
		7*24*time.Hour + time.Millisecond: "1w1ms",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%d) = %q, want %q", d, got, want)
		}
	}
}

// TestParseTime parses every accepted form of time and rejects the rest
// with a message quoting the input and a hint.
func TestParseTime(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	for _, tc := range []struct {
		in     string
		kind   TimeKind
		offset time.Duration
		abs    time.Time
	}{
		{"now", TimeNow, 0, time.Time{}},
		{"NOW", TimeNow, 0, time.Time{}},
		{"-15m", TimeRelative, -15 * time.Minute, time.Time{}},
		{"+1h", TimeRelative, time.Hour, time.Time{}},
		{"-1h30m", TimeRelative, -90 * time.Minute, time.Time{}},
		{"-500ms", TimeRelative, -500 * time.Millisecond, time.Time{}},
		{"-2w", TimeRelative, -14 * 24 * time.Hour, time.Time{}},
		{"2026-11-20T10:00:00Z", TimeAbsolute, 0, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)},
		{"2026-11-20T10:00:00.250Z", TimeAbsolute, 0, time.Date(2026, 11, 20, 10, 0, 0, 250e6, time.UTC)},
		{"2026-11-20T12:00:00+02:00", TimeAbsolute, 0, time.Date(2026, 11, 20, 12, 0, 0, 0, plus2)},
		{"2026-11-20T10:00:00", TimeAbsolute, 0, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)},
		{"2026-11-20T10:00Z", TimeAbsolute, 0, time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)},
		{"2026-11-20", TimeAbsolute, 0, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		{"1763632800000", TimeEpochMs, 0, time.UnixMilli(1763632800000)},
		{"9214646400000", TimeEpochMs, 0, time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"100000000000", TimeEpochMs, 0, time.UnixMilli(100_000_000_000)},
		{"0001763632800000", TimeEpochMs, 0, time.UnixMilli(1763632800000)},
	} {
		got, err := parseTime(tc.in)
		if err != nil {
			t.Errorf("parseTime(%q): %s", tc.in, err.msg)
			continue
		}
		if got.Kind != tc.kind || got.Offset != tc.offset || !got.Abs.Equal(tc.abs) {
			t.Errorf("parseTime(%q) = %+v, want kind %v offset %v abs %v", tc.in, got, tc.kind, tc.offset, tc.abs)
		}
		if tc.kind == TimeAbsolute {
			_, off := got.Abs.Zone()
			if _, want := tc.abs.Zone(); off != want {
				t.Errorf("parseTime(%q) lost the offset: %v", tc.in, got.Abs)
			}
		}
	}
	for _, bad := range []string{"", "yesterday", "15m", "-15", "-15x", "- 15m", "2026-13-01", "2026-11-20T25:00:00Z", "2026-11-20 10:00:00",
		"1763632800", "99999999999", "00000000000", "0", "253402300800000", "9223372036855", "2262-04-12", "1677-09-20T00:00:00Z", "9999-12-31", "99999999999999999999", "-99999999999999w", "nowish"} {
		if got, err := parseTime(bad); err == nil {
			t.Errorf("parseTime(%q) = %+v, want an error", bad, got)
		} else if err.hint == "" || !strings.Contains(err.msg, strings.TrimSpace(bad)) && bad != "" {
			t.Errorf("parseTime(%q): error %q (hint %q) does not quote the input or lacks a hint", bad, err.msg, err.hint)
		}
	}
}

// TestResolve resolves each kind of time against a query start.
func TestResolve(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	abs := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("", -5*3600))
	for _, tc := range []struct {
		tv   TimeValue
		want time.Time
	}{
		{TimeValue{Kind: TimeNow}, now},
		{TimeValue{Kind: TimeRelative, Offset: -15 * time.Minute}, now.Add(-15 * time.Minute)},
		{TimeValue{Kind: TimeRelative, Offset: time.Hour}, now.Add(time.Hour)},
		{TimeValue{Kind: TimeAbsolute, Abs: abs}, abs},
		{TimeValue{Kind: TimeEpochMs, Abs: time.UnixMilli(1763632800000)}, time.UnixMilli(1763632800000)},
		{TimeValue{}, now}, // the zero value means now
	} {
		if got := tc.tv.Resolve(now); !got.Equal(tc.want) {
			t.Errorf("%+v.Resolve(%v) = %v, want %v", tc.tv, now, got, tc.want)
		}
	}
}

// TestResolveParsed resolves times as Parse produces them: relative times
// against the query's start, absolute ones regardless of it.
func TestResolveParsed(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for q, want := range map[string]time.Time{
		`name = "a" AT "-1h"`:                       now.Add(-time.Hour),
		`name = "a" AT now`:                         now,
		`name = "a" AT "2026-11-20T12:00:00+02:00"`: now,
		`name = "a" AT 1763632800000`:               time.Date(2025, 11, 20, 10, 0, 0, 0, time.UTC),
	} {
		stmt, err := Parse(q)
		if err != nil {
			t.Fatal(Render(q, err))
		}
		if got := stmt.(*TopologyStmt).At.Resolve(now); !got.Equal(want) {
			t.Errorf("%s: resolves to %v, want %v", q, got, want)
		}
	}
}

func TestParseTimeExported(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for text, want := range map[string]time.Time{
		"now":                  now,
		"-1h":                  now.Add(-time.Hour),
		`"-1d"`:                now.Add(-24 * time.Hour),
		"2026-11-20T10:00:00Z": time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC),
		"1763632800000":        time.UnixMilli(1763632800000),
	} {
		tv, err := ParseTime(text)
		if err != nil {
			t.Errorf("ParseTime(%q): %v", text, err)
			continue
		}
		if got := tv.Resolve(now); !got.Equal(want) {
			t.Errorf("ParseTime(%q) resolves to %v, want %v", text, got, want)
		}
	}
	_, err := ParseTime("1h")
	if err == nil || !strings.Contains(Render("1h", err), "needs a sign") {
		t.Errorf("ParseTime(1h): want an error with a hint about the sign, got %v", err)
	}
}

// TestResolveTime: the one check for times written outside a query (flags,
// API fields) refuses what the store cannot represent, however written:
// the review found --at +15000w and --at past 2261 read a wrapped time.
func TestResolveTime(t *testing.T) {
	now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	for _, bad := range []string{"+15000w", "2262-04-12T00:00:00Z", "9214646400000000", "1600-01-01"} {
		_, err := ResolveTime(bad, now)
		if err == nil {
			t.Errorf("ResolveTime(%q) accepted", bad)
			continue
		}
		if out := Render(bad, err); !strings.Contains(out, "^") {
			t.Errorf("ResolveTime(%q): error without a position:\n%s", bad, out)
		}
	}
	got, err := ResolveTime("-1h", now)
	if err != nil || !got.Equal(now.Add(-time.Hour)) {
		t.Errorf("-1h: %v %v", got, err)
	}
	if got, err := ResolveTime("2261-12-31T00:00:00Z", now); err != nil || got.Year() != 2261 {
		t.Errorf("2261: %v %v", got, err)
	}
}
