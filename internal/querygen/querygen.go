// Package querygen generates random STQL queries for tests: every topology
// key, both NOT forms, IN lists, globs, nested withNeighborsOf with every
// direction and several levels, and optionally a time to run at. Its
// values match the universe graphtest.RandomHistory generates (names
// "comp-N", the types, labels, environments and identifiers it uses), so
// most queries select something.
//
// The engine's differential test and the live-subscription property test
// draw their queries from it.
package querygen

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Gen generates queries from R. Changes adds CHANGES FROM … TO … to some
// statements; RelationTypes adds relationTypes to some withNeighborsOf
// calls (types of graphtest.RandomHistory's relations, globs included).
type Gen struct {
	R             *rand.Rand
	Changes       bool
	RelationTypes bool
}

func (q *Gen) pick(l ...string) string { return l[q.R.IntN(len(l))] }

// Statement returns a query that, half the time, runs at a past time: one
// of times (or a second before it), or a relative time.
func (q *Gen) Statement(times []time.Time) string {
	s := q.Expr()
	n := 4
	if q.Changes {
		n = 6
	}
	switch q.R.IntN(n) {
	case 0:
		at := times[q.R.IntN(len(times))].Add(-time.Duration(q.R.Int64N(2)) * time.Second)
		s += " AT " + strconv.Quote(at.UTC().Format(time.RFC3339))
	case 1:
		s = "TOPOLOGY " + s + " AT " + strconv.Quote(fmt.Sprintf("-%ds", q.R.IntN(4000)))
	case 2:
		from := times[q.R.IntN(len(times))].Add(-time.Duration(q.R.Int64N(2)) * time.Second)
		s += " CHANGES FROM " + strconv.Quote(from.UTC().Format(time.RFC3339))
		if q.R.IntN(2) == 0 {
			s += " TO " + strconv.Quote(from.Add(time.Duration(q.R.IntN(2000))*time.Second).UTC().Format(time.RFC3339))
		}
	}
	return s
}

// Expr returns a topology query without a time.
func (q *Gen) Expr() string { return q.expr(0) }

func (q *Gen) expr(depth int) string {
	n := q.R.IntN(10)
	switch {
	case depth >= 3 || n < 4:
		return q.compare()
	case n < 7:
		op := q.pick("AND", "and", "OR", "or", "NOT", "AND NOT")
		s := q.expr(depth+1) + " " + op + " " + q.expr(depth+1)
		if q.R.IntN(2) == 0 {
			s = "(" + s + ")"
		}
		return s
	case n < 8:
		return q.pick("NOT ", "not ") + "(" + q.expr(depth+1) + ")"
	}
	return q.Neighbours(depth + 1)
}

// Neighbours returns a withNeighborsOf call nested depth levels deep.
func (q *Gen) Neighbours(depth int) string {
	var args []string
	if q.R.IntN(5) > 0 {
		args = append(args, "components = ("+q.expr(depth)+")")
	}
	if q.R.IntN(3) > 0 {
		args = append(args, "levels = "+q.pick(`"1"`, `"2"`, `'3'`, `"all"`, "2", `"15"`))
	}
	if q.R.IntN(3) > 0 {
		args = append(args, "direction = "+q.pick(`"up"`, `"down"`, `"both"`, "up", `'DOWN'`))
	}
	if q.RelationTypes && q.R.IntN(3) == 0 {
		var types []string
		for range 1 + q.R.IntN(2) {
			types = append(types, q.pick(`"service"`, `"POD"`, `"otel*"`, `"data*"`, `"host"`, `"*"`))
		}
		args = append(args, q.pick("relationTypes", "relationtypes")+" = ("+strings.Join(types, ", ")+")")
	}
	q.R.Shuffle(len(args), func(i, j int) { args[i], args[j] = args[j], args[i] })
	return q.pick("withNeighborsOf", "withneighborsof") + "(" + strings.Join(args, ", ") + ")"
}

var values = map[string][]string{
	"name":        {`"comp-1"`, `"COMP-2"`, `"comp-1*"`, `"*-3"`, `"comp-*"`, "comp-4", `"*"`},
	"type":        {`"service"`, `"SERVICE"`, `"pod"`, `"otel service"`, `"host"`, `"data*"`, `"*"`},
	"layer":       {`"Applications"`, `"machines"`, `""`, `"*ers"`},
	"domain":      {`""`, `"shop"`, `"SHOP"`, `"inf*"`, `"*"`},
	"environment": {`"production"`, `"Staging"`, `"prod*"`},
	"label":       {`"tier:web"`, `"Region:EU"`, `"tier:*"`, `"x"`, `"stackpack:kubernetes"`, `'namespace:shop'`},
	"healthstate": {`"CLEAR"`, `"deviating"`, `"Critical"`, `"UNKNOWN"`},
	"identifier":  {`"urn:id:1"`, `"urn:id:2"`, `"urn:id:1*"`, `"e3"`, `"E3"`},
	"id":          {"1", "2", `"3"`, "17", `"x"`, "40"},
}

var keys = map[string][]string{
	"name": {"name", "Name"}, "type": {"type", "TYPE"}, "layer": {"layer"}, "domain": {"domain"},
	"environment": {"environment", "environments"}, "label": {"label", "Label"},
	"healthstate": {"healthstate", "healthState"}, "identifier": {"identifier"}, "id": {"id"},
}

func (q *Gen) compare() string {
	names := []string{"name", "type", "layer", "domain", "environment", "label", "healthstate", "identifier", "id"}
	k := names[q.R.IntN(len(names))]
	key := q.pick(keys[k]...)
	vals := values[k]
	switch q.R.IntN(4) {
	case 0:
		return key + " = " + q.pick(vals...)
	case 1:
		return key + " != " + q.pick(vals...)
	}
	var list []string
	for range 1 + q.R.IntN(3) {
		list = append(list, q.pick(vals...))
	}
	return key + " " + q.pick("IN", "in", "NOT IN", "not in") + " (" + strings.Join(list, ", ") + ")"
}
