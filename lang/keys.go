package lang

import (
	"fmt"
	"strings"
)

// field describes a known field of a data kind.
type field struct {
	name   string
	kind   fieldKind
	values []string // for enumerations: the values, any case
}

type fieldKind int

const (
	fieldString   fieldKind = iota // compared with =, !=, IN, NOT IN
	fieldEnum                      // a string from a closed set
	fieldDuration                  // a duration, compared with any operator
	fieldTime                      // a time, compared with any operator
	fieldFree                      // a tag or attribute: any value, any operator
)

// dataKind is the vocabulary of the WHERE filter of one data statement.
type dataKind struct {
	stmt   string           // METRICS, EVENTS, TRACES
	fields map[string]field // known fields by lower-case name
	open   bool             // any other key is a tag
}

var (
	metricsKind = &dataKind{stmt: "METRICS", open: true, fields: fields(
		field{name: "name"},
	)}
	eventsKind = &dataKind{stmt: "EVENTS", open: true, fields: fields(
		field{name: "name"}, field{name: "type"}, field{name: "source"}, field{name: "message"},
		field{name: "category", kind: fieldEnum, values: []string{"Changes", "Deployments", "Alerts", "Anomalies", "Activities", "Others"}},
	)}
	tracesKind = &dataKind{stmt: "TRACES", fields: fields(
		field{name: "service"}, field{name: "name"}, field{name: "kind"},
		field{name: "status", kind: fieldEnum, values: []string{"ok", "error", "unset"}},
		field{name: "duration", kind: fieldDuration},
		field{name: "start", kind: fieldTime},
		field{name: "trace_id"}, field{name: "span_id"}, field{name: "parent_id"},
	)}
)

func fields(fs ...field) map[string]field {
	m := make(map[string]field, len(fs))
	for _, f := range fs {
		m[f.name] = f
	}
	return m
}

// traceFieldNames is for "did you mean" on an unknown TRACES field.
var traceFieldNames = []string{"service", "name", "kind", "status", "duration", "start", "trace_id", "span_id", "parent_id", "attributes.", "resource."}

// attributePrefixes are the TRACES key prefixes that open a free namespace.
var attributePrefixes = []string{"attributes.", "resource."}

// lookup resolves a key of a WHERE filter: the canonical name and the field,
// ok false when the key is unknown to a closed kind.
func (k *dataKind) lookup(name string) (string, field, bool) {
	lower := strings.ToLower(name)
	if f, ok := k.fields[lower]; ok {
		return f.name, f, true
	}
	if k.open {
		return name, field{name: name, kind: fieldFree}, true
	}
	for _, p := range attributePrefixes {
		if len(name) > len(p) && strings.EqualFold(name[:len(p)], p) {
			canon := p + name[len(p):]
			return canon, field{name: canon, kind: fieldFree}, true
		}
	}
	return name, field{}, false
}

// suggest returns a "did you mean" hint for word among names, or fallback
// when none is close.
func suggest(word string, names []string, fallback string) string {
	limit := min(1+len(word)/4, 3)
	best, bestDist := "", limit+1
	lower := strings.ToLower(word)
	for _, n := range names {
		if d := editDistance(lower, strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return fallback
	}
	return fmt.Sprintf("did you mean %q?", best)
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus adjacent transpositions), over bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // nobody misspells a key that badly
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
