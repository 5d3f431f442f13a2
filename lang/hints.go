package lang

import (
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// keywords are the words the grammar gives a meaning to somewhere.
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IN": true,
	"TOPOLOGY": true, "AT": true, "CHANGES": true, "FROM": true, "TO": true,
	"METRICS": true, "EVENTS": true, "TRACES": true, "WHERE": true, "FOR": true,
	"AGGREGATE": true, "BY": true, "GROUP": true, "ORDER": true, "ASC": true, "DESC": true,
	"LIMIT": true,
}

func isKeyword(w string) bool { return keywords[strings.ToUpper(w)] }

const (
	hintFilter   = `expected a filter such as name = "x", a function such as withNeighborsOf(…), NOT, or ( … )`
	hintValue    = `expected a value: a quoted string ("x"), a number, or a bare word`
	hintOperator = "expected an operator: =, !=, IN (…) or NOT IN (…) (and <, <=, >, >= in a WHERE filter)"
	hintTime     = `expected a time: "now", a relative time such as "-15m", an ISO-8601 time, or epoch milliseconds`
	hintAfter    = "expected AND, OR, NOT, the next clause, or the end of the query"
	hintClose    = "expected AND, OR, NOT, or ) to close a parenthesis"
	hintArgument = `expected an argument: components = (…), levels = "n" or direction = "up"|"down"|"both"`
	hintStart    = `a query starts with a filter (name = "x"), a function, NOT, ( or a statement keyword: TOPOLOGY, METRICS, EVENTS, TRACES`
	hintComma    = "expected another item after the comma"
)

// clauseOrders lists the clauses of each data statement, in order.
var clauseOrders = map[string][]string{
	"METRICS": {"WHERE", "FOR", "FROM", "TO", "AGGREGATE", "BY", "GROUP", "LIMIT"},
	"EVENTS":  {"WHERE", "FOR", "FROM", "TO", "LIMIT"},
	"TRACES":  {"WHERE", "FOR", "FROM", "TO", "ORDER", "BY", "ASC", "DESC", "LIMIT"},
}

var clauseSyntax = map[string]string{
	"METRICS": "WHERE …, FOR (…), FROM … TO …, AGGREGATE … BY …, GROUP BY …, LIMIT n",
	"EVENTS":  "WHERE …, FOR (…), FROM … TO …, LIMIT n",
	"TRACES":  "WHERE …, FOR (…), FROM … TO …, ORDER BY … [ASC|DESC], LIMIT n",
}

// keywordHints says what follows a keyword.
var keywordHints = map[string]string{
	"IN":        `expected ( and a list of values: IN ("a", "b")`,
	"AND":       hintFilter,
	"OR":        hintFilter,
	"NOT":       hintFilter + ", or IN after a key",
	"WHERE":     hintFilter,
	"TOPOLOGY":  hintFilter,
	"AT":        hintTime,
	"FROM":      hintTime,
	"TO":        hintTime,
	"CHANGES":   "expected FROM: CHANGES FROM <time> [TO <time>]",
	"AGGREGATE": "expected an aggregation: mean, min, max, sum, count, last, percentile(p), sum_no_zeros, event_count_no_zeros",
	"GROUP":     "expected BY: GROUP BY <field>, …",
	"ORDER":     "expected BY: ORDER BY <field> [ASC|DESC]",
	"LIMIT":     "expected a positive integer",
	"FOR":       `expected a topology query in parentheses: FOR (type = "service")`,
	"METRICS":   "expected a clause (" + clauseSyntax["METRICS"] + ") or the end of the query",
	"EVENTS":    "expected a clause (" + clauseSyntax["EVENTS"] + ") or the end of the query",
	"TRACES":    "expected a clause (" + clauseSyntax["TRACES"] + ") or the end of the query",
}

// valueKeywords take one value after them, so the word after one is a value.
var valueKeywords = map[string]bool{"AT": true, "FROM": true, "TO": true, "LIMIT": true, "BY": true, "AGGREGATE": true}

// explain guesses, from the tokens before the unexpected one, what the
// user meant to write there, and returns the token to blame with a hint.
// The blame moves back one token when a clause keyword stood where a filter
// was expected (TOPOLOGY AT "-1h"): the parser took the keyword for a key.
// The source has lexed cleanly once already.
func explain(src string, tok lexer.Token) (lexer.Token, string) {
	toks := tokensBefore(src, tok.Pos.Offset)
	if n := len(toks); n > 0 && keywordAsKey(toks) {
		return toks[n-1], hintFilter
	}
	return tok, expectHint(toks, tok)
}

// keywordAsKey reports whether the last of toks is a clause keyword where a
// filter should start.
func keywordAsKey(toks []lexer.Token) bool {
	last := toks[len(toks)-1]
	if last.Type != tokWord || !isKeyword(last.Value) {
		return false
	}
	if len(toks) == 1 {
		_, statement := clauseOrders[strings.ToUpper(last.Value)]
		return !statement && !strings.EqualFold(last.Value, "TOPOLOGY")
	}
	switch strings.ToUpper(toks[len(toks)-2].Value) {
	case "TOPOLOGY", "WHERE", "AND", "OR", "NOT", "(":
		return true
	}
	return false
}

// expectHint says what could stand where tok is, after toks.
func expectHint(toks []lexer.Token, tok lexer.Token) string {
	if len(toks) == 0 {
		return hintStart
	}
	prev := toks[len(toks)-1]
	if h, ok := keywordHints[strings.ToUpper(prev.Value)]; ok && (prev.Type == tokWord || prev.Type == tokBool) {
		return h
	}
	if h := clauseHint(toks, tok); h != "" {
		return h
	}
	var prevprev *lexer.Token
	if len(toks) > 1 {
		prevprev = &toks[len(toks)-2]
	}
	h := nextHint(prev, prevprev)
	if h == hintAfter && prevprev != nil && strings.EqualFold(prevprev.Value, "BY") && len(toks) > 2 && strings.EqualFold(toks[len(toks)-3].Value, "ORDER") {
		return "expected ASC, DESC, LIMIT or the end of the query"
	}
	if h == hintAfter {
		return closeHint(toks)
	}
	return h
}

// closeHint is what may follow a complete operand: inside parentheses, what
// closes them.
func closeHint(toks []lexer.Token) string {
	open := innermostParen(toks)
	switch {
	case open < 0:
		return hintAfter
	case open > 0 && strings.EqualFold(toks[open-1].Value, "IN"):
		return "expected , and another value, or ) to close the IN list"
	case open > 0 && toks[open-1].Type == tokWord && !isKeyword(toks[open-1].Value):
		return fmt.Sprintf("expected , and another argument, or ) to close %s(…)", toks[open-1].Value)
	}
	return hintClose
}

// nextHint says what may follow prev.
func nextHint(prev lexer.Token, prevprev *lexer.Token) string {
	switch prev.Type {
	case tokOp:
		return hintValue
	case tokString:
		return hintAfter
	case tokPunct:
		return afterPunct(prev.Value, prevprev)
	}
	if strings.EqualFold(prev.Value, "BY") {
		if prevprev != nil && (strings.EqualFold(prevprev.Value, "GROUP") || strings.EqualFold(prevprev.Value, "ORDER")) {
			return "expected a field name"
		}
		return "expected a duration such as 5m"
	}
	if prevprev != nil && (prevprev.Type == tokOp || prevprev.Value == "," || prevprev.Value == "(" || valueKeywords[strings.ToUpper(prevprev.Value)]) {
		return hintAfter // prev was a value
	}
	return hintOperator // prev was a key
}

func afterPunct(p string, prevprev *lexer.Token) string {
	switch {
	case p == ")":
		return hintAfter
	case p == ",":
		return hintComma
	case prevprev != nil && strings.EqualFold(prevprev.Value, "IN"):
		return hintValue
	case prevprev != nil && prevprev.Type == tokWord && !isKeyword(prevprev.Value):
		return hintArgument
	}
	return hintFilter
}

// clauseHint explains a clause keyword out of place in a data statement.
func clauseHint(toks []lexer.Token, tok lexer.Token) string {
	if tok.Type != tokWord || !isKeyword(tok.Value) {
		return "" // tokBool: AND, OR, NOT, IN are never clause keywords
	}
	kw := strings.ToUpper(tok.Value)
	stmt := strings.ToUpper(toks[0].Value)
	order, ok := clauseOrders[stmt]
	if !ok {
		return topologyClauseHint(kw)
	}
	for _, c := range order {
		if c == kw {
			return fmt.Sprintf("the clauses of %s come in this order: %s", stmt, clauseSyntax[stmt])
		}
	}
	return fmt.Sprintf("%s has no %s clause; its clauses are, in order: %s", stmt, kw, clauseSyntax[stmt])
}

// topologyClauseHint explains a data statement's clause after a topology
// query.
func topologyClauseHint(kw string) string {
	switch kw {
	case "WHERE", "FOR", "FROM", "AGGREGATE", "GROUP", "ORDER", "LIMIT":
		return fmt.Sprintf("a topology query has no %s clause; it takes AT <time> or CHANGES FROM <time> [TO <time>]", kw)
	}
	return ""
}

// innermostParen returns the index of the innermost "(" still open at the
// end of toks, or -1.
func innermostParen(toks []lexer.Token) int {
	var open []int
	for i, t := range toks {
		switch {
		case t.Type != tokPunct:
		case t.Value == "(":
			open = append(open, i)
		case t.Value == ")" && len(open) > 0:
			open = open[:len(open)-1]
		}
	}
	if len(open) == 0 {
		return -1
	}
	return open[len(open)-1]
}

// tokensBefore returns the tokens that start before byte offset off.
func tokensBefore(src string, off int) []lexer.Token {
	s := newScanner(src, Limits{MaxBytes: len(src) + 1, MaxDepth: len(src) + 1, MaxTokens: len(src) + 1, MaxListValues: 1})
	var out []lexer.Token
	for {
		t, err := s.Next()
		if err != nil || t.Type == lexer.EOF || t.Pos.Offset >= off {
			return out
		}
		out = append(out, t)
	}
}

// nextToken returns the token after the one at byte offset off.
func nextToken(src string, off int) lexer.Token {
	s := newScanner(src, Limits{MaxBytes: len(src) + 1, MaxDepth: len(src) + 1, MaxTokens: len(src) + 1, MaxListValues: 1})
	for {
		t, err := s.Next()
		if err != nil || t.Type == lexer.EOF || t.Pos.Offset > off {
			if err != nil {
				return lexer.Token{Type: lexer.EOF, Pos: lexer.Position{Offset: len(src)}}
			}
			return t
		}
	}
}
