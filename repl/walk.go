package repl

import (
	"strings"

	"github.com/tetrahq/tetra/lang"
)

// expectation is what the grammar allows at the cursor.
type expectation int

const (
	expNothing   expectation = iota // nothing to propose (a number, a syntax error)
	expStatement                    // a statement keyword or a filter
	expFilter                       // a key, a function, NOT or (
	expOperator                     // an operator after a key
	expNotIn                        // IN after key NOT
	expValue                        // a value of key
	expAfter                        // AND, OR, NOT, ), the next clause
	expTime                         // a time after AT, FROM or TO
	expArgument                     // a function's argument name
	expArgEquals                    // = after an argument name
	expArgValue                     // the value of argument key
	expKeyword                      // the keyword key (FROM after CHANGES, BY after GROUP)
	expGroupKey                     // a key after GROUP BY
	expAggregate                    // an aggregation method
	expListOpen                     // ( after IN
	expOpenFor                      // ( after FOR
	expSeparator                    // a comma or ) (after a list value or an argument)
	expClause                       // a clause of a data statement, right after its keyword
)

// frame is an open parenthesis and what it opened.
type frame int

const (
	frameGroup    frame = iota // ( filter )
	frameFunction              // withNeighborsOf( arguments )
	frameArgQuery              // components = ( filter )
	frameList                  // IN ( values )
	frameFor                   // FOR ( topology query )
	frameParen                 // any other (: AGGREGATE percentile(…)
)

// state is where a walk over the tokens before the cursor ended.
type state struct {
	exp    expectation
	key    string // the key of expOperator and expValue, the argument of expArgValue, the keyword of expKeyword
	stmt   string // the data statement keyword (METRICS, EVENTS, TRACES), or "" for topology
	clause string // the last clause keyword of a data statement
	frames []frame
}

// data reports whether the statement is METRICS, EVENTS or TRACES.
func (s *state) data() bool { return s.stmt != "" }

// inTopology reports whether the cursor is inside a topology query nested
// in a data statement (FOR (…), or a function's components).
func (s *state) inTopology() bool {
	for _, f := range s.frames {
		if f == frameFor || f == frameArgQuery || f == frameFunction {
			return true
		}
	}
	return false
}

func (s *state) top() frame {
	if len(s.frames) == 0 {
		return -1
	}
	return s.frames[len(s.frames)-1]
}

// walk follows the grammar over complete tokens, forgivingly: where the
// text does not fit the grammar it ends in expNothing rather than guess.
func walk(toks []lang.Token) *state {
	st := &state{exp: expStatement}
	for _, t := range toks {
		switch t.Kind {
		case lang.TokenWord, lang.TokenString:
			st.word(t)
		case lang.TokenBool:
			st.boolean(strings.ToUpper(t.Text))
		case lang.TokenOp:
			st.operator(t.Text)
		case lang.TokenPunct:
			st.punct(t.Text)
		}
		if st.exp == expNothing {
			return st
		}
	}
	return st
}

func (s *state) word(t lang.Token) {
	upper := strings.ToUpper(t.Text)
	isWord := t.Kind == lang.TokenWord
	switch s.exp {
	case expStatement:
		if isWord && upper == "TOPOLOGY" {
			s.exp = expFilter
			return
		}
		if isWord && (upper == "METRICS" || upper == "EVENTS" || upper == "TRACES") {
			s.stmt, s.exp = upper, expClause
			return
		}
		fallthrough
	case expFilter:
		s.exp, s.key = expOperator, t.Text
		if !isWord {
			s.exp = expNothing
		}
	case expValue:
		s.exp = expAfter
		if s.top() == frameList {
			s.exp = expSeparator
		}
	case expTime, expAggregate:
		s.exp = expAfter
	case expArgValue:
		s.exp = expSeparator
	case expArgument:
		s.exp, s.key = expArgEquals, strings.ToLower(t.Text)
	case expGroupKey:
		s.exp = expAfter
	case expKeyword:
		s.keyword(upper)
	case expAfter, expClause:
		s.clauseKeyword(upper)
	default:
		s.exp = expNothing
	}
}

// clauseKeyword moves past a keyword that follows a whole filter.
func (s *state) clauseKeyword(kw string) {
	s.clause = kw
	switch kw {
	case "AT", "FROM", "TO":
		s.exp = expTime
	case "CHANGES":
		s.exp, s.key = expKeyword, "FROM"
	case "WHERE":
		s.exp = expFilter
	case "FOR":
		s.exp = expOpenFor
	case "GROUP", "ORDER":
		s.exp, s.key = expKeyword, "BY"
	case "AGGREGATE":
		s.exp = expAggregate
	default: // LIMIT n, ASC, DESC, or a word that is no keyword here
		s.exp = expNothing
	}
}

// keyword takes the keyword that expKeyword asked for.
func (s *state) keyword(kw string) {
	if kw != s.key {
		s.exp = expNothing
		return
	}
	switch kw {
	case "FROM":
		s.clause, s.exp = "FROM", expTime
	case "BY":
		s.exp = expGroupKey
	}
}

func (s *state) boolean(op string) {
	switch {
	case op == "AND" || op == "OR":
		if s.exp == expAfter {
			s.exp = expFilter
			return
		}
	case op == "NOT":
		switch s.exp {
		case expStatement, expFilter, expAfter:
			s.exp = expFilter
			return
		case expOperator:
			s.exp = expNotIn
			return
		}
	case op == "IN":
		if s.exp == expOperator || s.exp == expNotIn {
			s.exp = expListOpen
			return
		}
	}
	s.exp = expNothing
}

func (s *state) operator(op string) {
	switch s.exp {
	case expOperator:
		s.exp = expValue
	case expArgEquals:
		if op == "=" {
			s.exp = expArgValue
			return
		}
		s.exp = expNothing
	default:
		s.exp = expNothing
	}
}

func (s *state) punct(p string) {
	switch p {
	case "(":
		s.open()
	case ",":
		switch s.top() {
		case frameFunction:
			if s.exp == expSeparator {
				s.exp = expArgument
				return
			}
		case frameList:
			if s.exp == expSeparator {
				s.exp = expValue
				return
			}
		}
		if s.exp == expAfter && s.clause == "GROUP" {
			s.exp = expGroupKey
			return
		}
		s.exp = expNothing
	case ")":
		if len(s.frames) == 0 {
			s.exp = expNothing
			return
		}
		closed := s.top()
		s.frames = s.frames[:len(s.frames)-1]
		s.exp = expAfter
		if closed == frameArgQuery {
			s.exp = expSeparator
		}
	}
}

// open takes a "(": what it opens depends on what came before.
func (s *state) open() {
	switch s.exp {
	case expOperator: // the key was a function's name
		s.frames = append(s.frames, frameFunction)
		s.exp = expArgument
	case expListOpen:
		s.frames = append(s.frames, frameList)
		s.exp = expValue
	case expArgValue:
		s.frames = append(s.frames, frameArgQuery)
		s.exp = expFilter
	case expOpenFor:
		s.frames = append(s.frames, frameFor)
		s.exp = expFilter
	case expStatement, expFilter:
		s.frames = append(s.frames, frameGroup)
		s.exp = expFilter
	default:
		s.frames = append(s.frames, frameParen)
		s.exp = expNothing
	}
}
