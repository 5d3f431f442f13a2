package scriptrt

import (
	"math"
	"strings"
	"time"

	"github.com/dop251/goja"

	"github.com/tetrahq/tetra/lang"
)

// Time.now(), Time.epochMs(instant) and Time.format(instant, pattern).
// Instants are epoch milliseconds, as in StackState's scripts; anything
// that takes an instant also takes a TQL time string ("now", "-1h",
// ISO-8601) or a Date.

// timeNow is the run's start time: the time relative times in its
// queries count from.
func (s *session) timeNow(goja.FunctionCall) goja.Value {
	return s.vm.ToValue(s.now.UnixMilli())
}

func (s *session) timeEpochMs(call goja.FunctionCall) goja.Value {
	return s.vm.ToValue(s.instant(call.Argument(0), "Time.epochMs").UnixMilli())
}

// instant reads a time argument.
func (s *session) instant(v goja.Value, what string) time.Time {
	if obj, ok := v.(*goja.Object); ok && obj.ClassName() == "Date" {
		v = s.vm.ToValue(obj.ToFloat())
	}
	if goja.IsNumber(v) {
		f := v.ToFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxEpochMs {
			s.throw(argErrorf("%s: %v is not a time in epoch milliseconds", what, f), "")
		}
		return time.UnixMilli(int64(f)).UTC()
	}
	tv, err := lang.ParseTime(s.timeLiteral(v, what))
	if err != nil {
		s.throw(err, "")
	}
	return tv.Resolve(s.now)
}

// maxEpochMs is the largest instant JavaScript's Date holds.
const maxEpochMs = 8.64e15

// timeFormat formats an instant with a Java DateTimeFormatter pattern
// (StackState's), in UTC unless a third argument names a time zone.
func (s *session) timeFormat(call goja.FunctionCall) goja.Value {
	t := s.instant(call.Argument(0), "Time.format")
	layout, err := javaLayout(s.stringArg(call, 1, "Time.format's pattern"))
	if err != nil {
		s.throw(err, "")
	}
	loc := time.UTC
	if z := call.Argument(2); !goja.IsUndefined(z) {
		if loc, err = time.LoadLocation(z.String()); err != nil {
			s.throw(argErrorf("Time.format: unknown time zone %q", z.String()), "")
		}
	}
	return s.vm.ToValue(t.In(loc).Format(layout))
}

// javaLetters maps runs of Java pattern letters to Go layout elements.
var javaLetters = map[string]string{
	"yyyy": "2006", "uuuu": "2006", "yy": "06", "uu": "06",
	"MMMM": "January", "MMM": "Jan", "MM": "01", "M": "1",
	"dd": "02", "d": "2", "EEEE": "Monday", "EEE": "Mon", "E": "Mon",
	"HH": "15", "hh": "03", "h": "3", "mm": "04", "m": "4", "ss": "05", "s": "5",
	"SSS": "000", "SS": "00", "S": "0", "a": "PM",
	"XXX": "Z07:00", "XX": "Z0700", "X": "Z07", "xxx": "-07:00", "xx": "-0700", "Z": "-0700", "z": "MST", "VV": "MST",
}

// javaLayout converts a Java DateTimeFormatter pattern to a Go layout.
// Text in single quotes is literal (” is a quote); a letter run it does
// not know is an error, not a silent mistake.
func javaLayout(p string) (string, error) {
	var out strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(p) && !(p[j] == '\'' && (j+1 >= len(p) || p[j+1] != '\'')) {
				if p[j] == '\'' {
					j++ // '' inside quotes
				}
				out.WriteByte(p[j])
				j++
			}
			if j == i+1 && j < len(p) { // '' outside quotes
				out.WriteByte('\'')
			}
			i = j + 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			run := p[i:j]
			g, ok := javaLetters[run]
			if !ok {
				return "", argErrorf("Time.format: the pattern letters %q are not supported (supported: yyyy yy MMMM MMM MM M dd d EEEE EEE HH hh h mm m ss s SSS a XXX Z z and 'quoted text')", run)
			}
			out.WriteString(g)
			i = j
		default:
			if c >= '0' && c <= '9' {
				return "", argErrorf("Time.format: quote digits in a pattern ('%c'), or Go would read them as a layout", c)
			}
			out.WriteByte(c)
			i++
		}
	}
	return out.String(), nil
}
