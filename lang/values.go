package lang

import (
	"fmt"
	"strconv"
	"strings"
)

// valueError is a problem with one literal; the caller knows its span.
type valueError struct {
	msg, hint string
	onArg     bool // for an aggregation: the argument is wrong, not the name
}

// unquote resolves the escapes of a raw string token (quotes included,
// escapes already validated by the scanner). It returns the text and, if the
// string has unescaped stars, the glob pattern: the literal pieces between
// them.
func unquote(raw string) (string, []string) {
	body := raw[1 : len(raw)-1]
	if !strings.ContainsAny(body, `\*`) {
		return body, nil
	}
	var text, piece strings.Builder
	var pattern []string
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			text.WriteByte(body[i])
			piece.WriteByte(body[i])
		case c == '*':
			text.WriteByte('*')
			pattern = append(pattern, piece.String())
			piece.Reset()
		default:
			text.WriteByte(c)
			piece.WriteByte(c)
		}
	}
	if pattern != nil {
		pattern = append(pattern, piece.String())
	}
	return text.String(), pattern
}

// wordPattern is the glob pattern of a bare word: a bare word has no
// escapes, so every star is a wildcard.
func wordPattern(w string) []string {
	if !strings.Contains(w, "*") {
		return nil
	}
	return strings.Split(w, "*")
}

// isNumberWord reports whether a bare word is a number: an optional sign,
// digits, and an optional fraction.
func isNumberWord(w string) bool {
	if w != "" && (w[0] == '-' || w[0] == '+') {
		w = w[1:]
	}
	whole, frac, dot := strings.Cut(w, ".")
	return allDigits(whole) && (!dot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseNumber(w string) (float64, *valueError) {
	f, err := strconv.ParseFloat(w, 64)
	if err != nil {
		return 0, &valueError{msg: fmt.Sprintf("number %s is out of range", w)}
	}
	return f, nil
}

// smallInt parses an unsigned decimal integer that fits in an int.
func smallInt(s string) (int, bool) {
	if !allDigits(s) || len(s) > 18 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// aggNames maps the accepted spellings of the aggregations that take no
// argument to their method.
var aggNames = map[string]AggMethod{
	"mean": AggMean, "avg": AggMean, "min": AggMin, "max": AggMax, "sum": AggSum,
	"count": AggCount, "event_count": AggCount, "last": AggLast,
	"sum_no_zeros": AggSumNoZeros, "event_count_no_zeros": AggCountNoZeros, "count_no_zeros": AggCountNoZeros,
}

const aggHint = "the aggregations are mean (avg), min, max, sum, count (event_count), last, percentile(p), sum_no_zeros and event_count_no_zeros"

// aggMethod resolves an aggregation written as name or name(arg):
// "mean", "percentile(99)", "percentile_99", "99th percentile".
func aggMethod(name string, arg *string) (AggMethod, float64, *valueError) {
	lower := strings.ToLower(name)
	if m, ok := aggNames[lower]; ok {
		if arg != nil {
			return m, 0, &valueError{msg: fmt.Sprintf("%s takes no argument", lower), hint: aggHint}
		}
		return m, 0, nil
	}
	var p string
	switch {
	case lower == "percentile" && arg != nil:
		return percentile(*arg, true)
	case lower == "percentile":
		return AggPercentile, 0, &valueError{msg: "percentile needs a percentile", hint: "e.g. percentile(99)"}
	case arg != nil:
		return 0, 0, &valueError{msg: fmt.Sprintf("unknown aggregation %q", name), hint: aggHint}
	case strings.HasPrefix(lower, "percentile_"):
		p = strings.TrimPrefix(lower, "percentile_")
	case strings.HasSuffix(lower, " percentile") && ordinal(strings.TrimSuffix(lower, " percentile")) != "":
		p = ordinal(strings.TrimSuffix(lower, " percentile"))
	case lower == "median":
		return 0, 0, &valueError{msg: `unknown aggregation "median"`, hint: "the median is percentile(50)"}
	default:
		return 0, 0, &valueError{msg: fmt.Sprintf("unknown aggregation %q", name), hint: suggest(lower, aggSpellings, aggHint)}
	}
	return percentile(p, false)
}

var aggSpellings = []string{"mean", "avg", "min", "max", "sum", "count", "event_count", "last", "percentile", "sum_no_zeros", "event_count_no_zeros"}

// ordinal strips the suffix of "99th", "1st", "2nd", "3rd"; it returns ""
// for anything else.
func ordinal(s string) string {
	for _, suf := range []string{"th", "st", "nd", "rd"} {
		if n, ok := strings.CutSuffix(s, suf); ok {
			return n
		}
	}
	return ""
}

// percentile parses p, which must lie in (0, 100].
func percentile(p string, onArg bool) (AggMethod, float64, *valueError) {
	bad := &valueError{msg: fmt.Sprintf("bad percentile %q", p), hint: "a percentile is a number above 0 and at most 100, e.g. percentile(99)", onArg: onArg}
	if !isNumberWord(p) || p[0] == '-' || p[0] == '+' {
		return AggPercentile, 0, bad
	}
	f, err := strconv.ParseFloat(p, 64)
	if err != nil || f <= 0 || f > 100 {
		return AggPercentile, 0, bad
	}
	return AggPercentile, f, nil
}
