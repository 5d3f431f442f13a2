package lang

import (
	"maps"
	"slices"
	"strconv"

	"github.com/tetrahq/tetra/internal/topokeys"
)

// Vocabulary is the words TQL gives a meaning to, for tools that help a
// user write queries (the shell's completion and help). It is built from
// the tables the parser and checker use, so it cannot drift from them.
type Vocabulary struct {
	// Statements are the statement keywords, upper case.
	Statements []string
	// Keywords are every keyword, upper case, sorted.
	Keywords []string
	// TopologyKeys are the canonical topology keys.
	TopologyKeys []string
	// KeyAliases maps every accepted spelling of a topology key, lower
	// case, to its canonical name.
	KeyAliases map[string]string
	// Functions are the topology functions, as written.
	Functions []string
	// Arguments are the argument names of the topology functions.
	Arguments []string
	// ArgumentValues are the values of the scalar arguments (levels,
	// direction).
	ArgumentValues map[string][]string
	// HealthStates are the values of healthstate, upper case.
	HealthStates []string
	// Clauses maps a data statement keyword to its clause keywords, in
	// the order they are written.
	Clauses map[string][]string
	// Fields maps a data statement keyword to the keys its WHERE filter
	// knows (METRICS and EVENTS take any other key as a tag).
	Fields map[string][]Field
	// Aggregations are the methods of AGGREGATE.
	Aggregations []string
}

// Field is a key of a data statement's WHERE filter, with its values when
// they form a closed set.
type Field struct {
	Name   string
	Values []string
}

// Words returns TQL's vocabulary. The result is the caller's to keep.
func Words() Vocabulary {
	v := Vocabulary{
		Statements:   []string{"TOPOLOGY", "METRICS", "EVENTS", "TRACES"},
		Keywords:     slices.Sorted(maps.Keys(keywords)),
		TopologyKeys: topokeys.Names(),
		KeyAliases:   topokeys.Aliases(),
		Functions:    slices.Clone(functionNames),
		Arguments:    slices.Clone(argumentNames),
		ArgumentValues: map[string][]string{
			"direction": {DirBoth.String(), DirUp.String(), DirDown.String()},
			"levels":    levelValues(),
		},
		HealthStates: slices.Clone(topokeys.HealthStates),
		Clauses:      map[string][]string{},
		Fields:       map[string][]Field{},
		Aggregations: slices.Clone(aggSpellings),
	}
	for stmt, order := range clauseOrders {
		v.Clauses[stmt] = slices.Clone(order)
	}
	for _, k := range []*dataKind{metricsKind, eventsKind, tracesKind} {
		v.Fields[k.stmt] = k.fieldList()
	}
	return v
}

// levelValues are the accepted levels: 1 to MaxLevels and "all".
func levelValues() []string {
	out := make([]string, 0, MaxLevels+1)
	for i := 1; i <= MaxLevels; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return append(out, "all")
}

// fieldList returns the kind's known fields sorted by name, with the
// attribute namespaces of TRACES as prefixes (attributes., resource.).
func (k *dataKind) fieldList() []Field {
	out := make([]Field, 0, len(k.fields)+len(attributePrefixes))
	for _, name := range slices.Sorted(maps.Keys(k.fields)) {
		out = append(out, Field{Name: name, Values: slices.Clone(k.fields[name].values)})
	}
	if !k.open {
		for _, p := range attributePrefixes {
			out = append(out, Field{Name: p})
		}
	}
	return out
}
