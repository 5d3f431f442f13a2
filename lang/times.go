package lang

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration units, longest name first where one is a prefix of another.
const (
	day  = 24 * time.Hour
	week = 7 * day
)

var durationUnits = []struct {
	name string
	d    time.Duration
}{
	{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute},
	{"h", time.Hour}, {"d", day}, {"w", week},
}

const durationHint = "a duration is a number and a unit (ms, s, m, h, d, w), e.g. 500ms, 5m, 1h30m"

// unitAt returns the duration unit at the start of s.
func unitAt(s string) (name string, d time.Duration, ok bool) {
	for _, u := range durationUnits {
		if strings.HasPrefix(s, u.name) {
			return u.name, u.d, true
		}
	}
	return "", 0, false
}

// isDurationWord reports whether w is written as a duration: one or more
// groups of digits and a unit (5m, 500ms, 1h30m).
func isDurationWord(w string) bool {
	if w == "" {
		return false
	}
	for w != "" {
		i := 0
		for i < len(w) && w[i] >= '0' && w[i] <= '9' {
			i++
		}
		name, _, ok := unitAt(w[i:])
		if i == 0 || !ok {
			return false
		}
		w = w[i+len(name):]
	}
	return true
}

// parseDuration parses a duration written as isDurationWord describes.
func parseDuration(w string) (time.Duration, *valueError) {
	if !isDurationWord(w) {
		return 0, &valueError{msg: fmt.Sprintf("bad duration %q", w), hint: durationHint}
	}
	var total time.Duration
	for rest := w; rest != ""; {
		i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		name, unit, _ := unitAt(rest[i:])
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil || n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, &valueError{msg: fmt.Sprintf("duration %s is out of range", w), hint: "durations are at most about 15000w"}
		}
		total += time.Duration(n) * unit
		rest = rest[i+len(name):]
	}
	return total, nil
}

// formatDuration writes d in the largest units that divide it: 90m is 1h30m.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	u := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		u = -u
	}
	for i := len(durationUnits) - 1; i >= 0; i-- {
		unit := uint64(durationUnits[i].d)
		if u >= unit {
			b.WriteString(strconv.FormatUint(u/unit, 10))
			b.WriteString(durationUnits[i].name)
			u %= unit
		}
	}
	if u > 0 { // below a millisecond: only an AST built by hand has these
		b.WriteString(strconv.FormatUint(u, 10))
		b.WriteString("ns")
	}
	return b.String()
}

// Layouts accepted for absolute times: RFC 3339 (a fraction of a second is
// accepted after the seconds by time.Parse), without seconds, without an
// offset (UTC), and a date alone (midnight UTC).
var timeLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

const timeHint = `a time is "now", a relative time such as "-15m" or "+1h", an ISO-8601 time such as "2026-11-20T10:00:00Z", or epoch milliseconds`

// parseTime parses the text of a time value (quotes already removed).
func parseTime(text string) (TimeValue, *valueError) {
	switch {
	case strings.EqualFold(text, "now"):
		return TimeValue{Kind: TimeNow}, nil
	case text != "" && (text[0] == '-' || text[0] == '+'):
		return parseRelative(text)
	case allDigits(text):
		return parseEpochMs(text)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, text); err == nil {
			if CheckTime(t) != "" {
				return TimeValue{}, &valueError{msg: fmt.Sprintf("time %s is outside the times Tetra keeps", text), hint: rangeHint}
			}
			return TimeValue{Kind: TimeAbsolute, Abs: t}, nil
		}
	}
	hint := timeHint
	if isDurationWord(text) {
		hint = fmt.Sprintf("a relative time needs a sign: -%s (ago) or +%s (ahead)", text, text)
	}
	return TimeValue{}, &valueError{msg: fmt.Sprintf("bad time %q", text), hint: hint}
}

func parseRelative(text string) (TimeValue, *valueError) {
	d, err := parseDuration(text[1:])
	if err != nil {
		if isDurationWord(text[1:]) {
			return TimeValue{}, &valueError{msg: fmt.Sprintf("relative time %s is out of range", text), hint: err.hint}
		}
		return TimeValue{}, &valueError{
			msg:  fmt.Sprintf("bad relative time %q", text),
			hint: "a relative time is a sign, a number and a unit (ms, s, m, h, d, w): -15m, +1h",
		}
	}
	if text[0] == '-' {
		d = -d
	}
	return TimeValue{Kind: TimeRelative, Offset: d}, nil
}

// The times Tetra can represent: a version's time is nanoseconds since
// 1970 in an int64, so 1677-09-21 to 2262-04-11 (the earliest is one
// nanosecond later, as stores read 0 as "now"). Every way a time enters
// (a query, a flag, an API field) is checked against them by CheckTime,
// never wrapped around to another time.
var (
	EarliestTime = time.Unix(0, math.MinInt64+1).UTC()
	LatestTime   = time.Unix(0, math.MaxInt64).UTC()
)

var rangeHint = fmt.Sprintf("times are kept as nanoseconds since 1970, so from %s to %s",
	EarliestTime.Format(time.DateOnly), LatestTime.Format(time.DateOnly))

// CheckTime returns an error message when t is outside the times Tetra
// can represent, "" otherwise.
func CheckTime(t time.Time) string {
	if t.Before(EarliestTime) || t.After(LatestTime) {
		return fmt.Sprintf("%s is outside the times Tetra keeps (%d to %d)",
			t.UTC().Format(time.RFC3339), EarliestTime.Year()+1, LatestTime.Year()-1)
	}
	return ""
}

// TimeRangeError is a time value that resolves outside the times Tetra
// can represent. It is a Spanned error: Render draws a caret under the
// value.
type TimeRangeError struct {
	Span Span
	Msg  string
}

func (e *TimeRangeError) Error() string         { return e.Msg }
func (e *TimeRangeError) SourceSpan() Span      { return e.Span }
func (e *TimeRangeError) SourceMessage() string { return e.Msg }

// ResolveChecked is Resolve that refuses a time outside EarliestTime and
// LatestTime with a *TimeRangeError at the value's span (a relative time
// far enough from now lands there).
func (t *TimeValue) ResolveChecked(now time.Time) (time.Time, error) {
	r := t.Resolve(now)
	if msg := CheckTime(r); msg != "" {
		return r, &TimeRangeError{Span: t.Src, Msg: msg}
	}
	return r, nil
}

// ResolveTime parses a time written outside a query (ParseTime) and
// resolves it against now, refusing times Tetra cannot represent. Errors
// are *Error positioned in text, for Render.
func ResolveTime(text string, now time.Time) (time.Time, error) {
	tv, err := ParseTime(text)
	if err != nil {
		return time.Time{}, err
	}
	t, err := tv.ResolveChecked(now)
	if err != nil {
		return t, newError(text, tv.Src, "", "%s", err.Error())
	}
	return t, nil
}

// Epoch milliseconds accepted: from 1973-03-03T09:46:40Z (smaller numbers
// are almost always epoch seconds by mistake) to LatestTime.
const minEpochMs = 100_000_000_000

var maxEpochMs = LatestTime.UnixMilli()

func parseEpochMs(text string) (TimeValue, *valueError) {
	ms, err := strconv.ParseInt(text, 10, 64)
	if err != nil || ms > maxEpochMs {
		return TimeValue{}, &valueError{msg: fmt.Sprintf("epoch time %s is out of range", text),
			hint: fmt.Sprintf("times end in the year %d", LatestTime.Year()-1)}
	}
	if ms < minEpochMs {
		hint := "times are epoch milliseconds, e.g. 1763632800000"
		if ms >= 100_000_000 {
			hint = fmt.Sprintf("times are epoch milliseconds: %d000", ms)
		}
		return TimeValue{}, &valueError{msg: fmt.Sprintf("epoch time %s looks like seconds", text), hint: hint}
	}
	return TimeValue{Kind: TimeEpochMs, Abs: time.UnixMilli(ms).UTC()}, nil
}

// formatTime writes a time value in canonical form; nil is "".
func formatTime(t *TimeValue) string {
	if t == nil {
		return ""
	}
	switch t.Kind {
	case TimeNow:
		return `"now"`
	case TimeRelative:
		sign := "+"
		if t.Offset < 0 {
			sign = ""
		}
		return `"` + sign + formatDuration(t.Offset) + `"`
	case TimeAbsolute:
		return `"` + t.Abs.Format(time.RFC3339Nano) + `"`
	case TimeEpochMs:
		return strconv.FormatInt(t.Abs.UnixMilli(), 10)
	}
	return fmt.Sprintf(`"%s"`, t.Kind)
}

// ParseTime parses a time written outside a query, such as a command-line
// flag (--at, --time): "now", a relative time ("-1h"), an ISO-8601 time or
// epoch milliseconds, as in a query, quoted or not. The error is an *Error
// whose span covers text.
func ParseTime(text string) (*TimeValue, error) {
	bare := text
	if len(bare) >= 2 && (bare[0] == '"' || bare[0] == '\'') && bare[len(bare)-1] == bare[0] {
		bare = bare[1 : len(bare)-1]
	}
	t, verr := parseTime(bare)
	if verr != nil {
		return nil, newError(text, Span{0, len(text)}, verr.hint, "%s", verr.msg)
	}
	t.Src = Span{0, len(text)}
	return &t, nil
}
