package esutil

import (
	"strings"

	"github.com/tetrahq/tetra/telemetry"
)

// FieldMap names the document field of a filter field (and whether that
// field is numeric, for comparisons with a range query instead of a
// script).
type FieldMap func(field string) (doc string, numeric bool)

// Query translates a filter to the query DSL: Match to term, terms and
// wildcard queries, Not to must_not (so a document without the field
// matches a negation, as in Eval), comparisons to range queries (on a
// tag's .num sub-field, see TagsMapping).
func Query(e telemetry.Expr, fm FieldMap) map[string]any {
	switch e := e.(type) {
	case nil:
		return map[string]any{"match_all": map[string]any{}}
	case *telemetry.And:
		if len(e.Xs) == 0 {
			return map[string]any{"match_all": map[string]any{}}
		}
		return boolQuery("filter", e.Xs, fm)
	case *telemetry.Or:
		q := boolQuery("should", e.Xs, fm)
		q["bool"].(map[string]any)["minimum_should_match"] = 1
		return q
	case *telemetry.Not:
		return map[string]any{"bool": map[string]any{"must_not": []any{Query(e.X, fm)}}}
	case *telemetry.Match:
		return match(e, fm)
	case *telemetry.Compare:
		return compare(e, fm)
	}
	return map[string]any{"match_none": map[string]any{}}
}

func boolQuery(occur string, xs []telemetry.Expr, fm FieldMap) map[string]any {
	qs := make([]any, len(xs))
	for i, x := range xs {
		qs[i] = Query(x, fm)
	}
	return map[string]any{"bool": map[string]any{occur: qs}}
}

func match(m *telemetry.Match, fm FieldMap) map[string]any {
	field, _ := fm(m.Field)
	var qs []any
	switch len(m.Values) {
	case 0:
	case 1:
		qs = append(qs, map[string]any{"term": map[string]any{field: m.Values[0]}})
	default:
		qs = append(qs, map[string]any{"terms": map[string]any{field: m.Values}})
	}
	for _, g := range m.Globs {
		qs = append(qs, map[string]any{"wildcard": map[string]any{field: map[string]any{"value": wildcard(g)}}})
	}
	if len(qs) == 1 {
		return qs[0].(map[string]any)
	}
	return map[string]any{"bool": map[string]any{"should": qs, "minimum_should_match": 1}}
}

// wildcard writes a glob as a wildcard pattern: its literal parts with
// the pattern's special characters escaped, joined by *.
func wildcard(g telemetry.Glob) string {
	esc := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`)
	parts := make([]string, len(g.Parts))
	for i, p := range g.Parts {
		parts[i] = esc.Replace(p)
	}
	return strings.Join(parts, "*")
}

var rangeOps = map[telemetry.CompareOp]string{telemetry.Lt: "lt", telemetry.Le: "lte", telemetry.Gt: "gt", telemetry.Ge: "gte"}

func compare(c *telemetry.Compare, fm FieldMap) map[string]any {
	field, numeric := fm(c.Field)
	if !numeric {
		// Tag values are keywords; their .num sub-field holds those that
		// read as numbers (ignore_malformed drops the others).
		field += ".num"
	}
	return map[string]any{"range": map[string]any{field: map[string]any{rangeOps[c.Op]: c.Value}}}
}

// Identifiers is the filter that keeps documents holding one of ids
// (nil: no filter).
func Identifiers(ids []string) map[string]any {
	if ids == nil {
		return nil
	}
	return map[string]any{"terms": map[string]any{"identifiers": ids}}
}

// Range is a range filter on a numeric or date field, both ends included.
func Range(field string, from, to int64) map[string]any {
	return map[string]any{"range": map[string]any{field: map[string]any{"gte": from, "lte": to}}}
}

// Filter combines filter clauses (nil ones left out) into one bool query.
func Filter(clauses ...map[string]any) map[string]any {
	var fs []any
	for _, c := range clauses {
		if c != nil {
			fs = append(fs, c)
		}
	}
	return map[string]any{"bool": map[string]any{"filter": fs}}
}

// TagsMapping is the mapping of an object of tags or attributes: its keys
// are leaf fields even when they contain dots (subobjects false, so the
// OpenTelemetry attributes http and http.method do not clash), each a
// keyword with a .num double sub-field for the values that read as numbers.
var TagsMapping = map[string]any{"type": "object", "subobjects": false}

// TagsTemplates are the dynamic templates that map the keys of the tag
// objects named.
func TagsTemplates(names ...string) []any {
	var out []any
	for _, n := range names {
		out = append(out, map[string]any{n + "_keywords": map[string]any{
			"path_match": n + ".*", "match_mapping_type": "string",
			"mapping": map[string]any{"type": "keyword", "ignore_above": 8191,
				"fields": map[string]any{"num": map[string]any{"type": "double", "ignore_malformed": true}}},
		}})
	}
	return out
}

// Keyword is a keyword field's mapping.
var Keyword = map[string]any{"type": "keyword", "ignore_above": 8191}

// TagObject turns tags into a document object; a key with several values
// holds a list.
func TagObject(tags telemetry.Tags) map[string]any {
	m := make(map[string]any, len(tags))
	for _, t := range tags {
		switch v := m[t.Key].(type) {
		case nil:
			m[t.Key] = t.Value
		case string:
			m[t.Key] = []string{v, t.Value}
		case []string:
			m[t.Key] = append(v, t.Value)
		}
	}
	return m
}

// TagsOf reads a document object written by TagObject back into tags.
func TagsOf(m map[string]any) telemetry.Tags {
	var out telemetry.Tags
	for k, v := range m {
		switch v := v.(type) {
		case string:
			out = append(out, telemetry.Tag{Key: k, Value: v})
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, telemetry.Tag{Key: k, Value: s})
				}
			}
		}
	}
	return telemetry.NewTags(out)
}
