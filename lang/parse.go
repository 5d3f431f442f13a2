package lang

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Limits bound the work Parse does on hostile input. A zero field means the
// DefaultLimits value.
type Limits struct {
	MaxBytes      int // length of the source text in bytes
	MaxDepth      int // nesting: open parentheses plus a run of prefix NOTs
	MaxTokens     int // tokens in the source text
	MaxListValues int // values in one IN (…) list
}

// DefaultLimits are the limits Parse applies: generous for any query a
// person or a generator writes, small enough that parsing stays fast.
var DefaultLimits = Limits{
	MaxBytes:      64 << 10,
	MaxDepth:      64,
	MaxTokens:     20_000,
	MaxListValues: 10_000,
}

// maxErrors is the most errors one Parse reports.
const maxErrors = 10

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = DefaultLimits.MaxTokens
	}
	if l.MaxListValues <= 0 {
		l.MaxListValues = DefaultLimits.MaxListValues
	}
	return l
}

// Parse parses one TQL statement with DefaultLimits. A bare STQL query
// parses to a *TopologyStmt with Keyword false. On failure the error is an
// *Error or an ErrorList (see Errors and Render).
//
// Parse is safe for concurrent use.
func Parse(src string) (Statement, error) {
	return ParseWithLimits(src, DefaultLimits)
}

// ParseFilter parses a bare topology query (STQL, without AT or CHANGES)
// and returns its expression: the form of an API key's scope, which
// confines every query of that key. Errors are as Parse's.
func ParseFilter(src string) (Expr, error) {
	stmt, err := Parse(src)
	if err != nil {
		return nil, err
	}
	ts, ok := stmt.(*TopologyStmt)
	if !ok || ts.Keyword || ts.At != nil || ts.Changes != nil {
		return nil, newError(src, stmt.Span(), `write a plain STQL filter, e.g. label = "team:shop"`,
			"expected a topology filter without a statement keyword, AT or CHANGES")
	}
	return ts.Query, nil
}

// ParseWithLimits is Parse with explicit limits. Exceeding a limit is an
// *Error that names the limit.
func ParseWithLimits(src string, lim Limits) (stmt Statement, err error) {
	lim = lim.withDefaults()
	defer catchInternal(src, &stmt, &err)
	if len(src) > lim.MaxBytes {
		return nil, newError(src, Span{lim.MaxBytes, len(src)}, "split the query, or raise the limit",
			"query is %d bytes, more than the limit of %d (MaxBytes)", len(src), lim.MaxBytes)
	}
	if strings.TrimSpace(src) == "" {
		return nil, newError(src, Span{0, len(src)}, `write a query, e.g. name = "checkout"`, "empty query")
	}
	tree, err := parseTree(src, lim)
	if err != nil {
		return nil, err
	}
	l := &lowerer{src: src, lim: lim}
	stmt = l.statement(tree)
	// The checker runs even after lowering errors, on the partial AST, so
	// that one Parse reports every mistake it can.
	c := &checker{src: src}
	c.statement(stmt)
	if errs := append(l.errs, c.errs...); len(errs) > 0 {
		return nil, errorList(errs)
	}
	return stmt, nil
}

// parseTree lexes and parses src into the participle parse tree.
func parseTree(src string, lim Limits) (*pStatement, error) {
	peek, err := lexer.Upgrade(newScanner(src, lim))
	if err != nil {
		return nil, err // an *Error from the scanner
	}
	tree, err := parser.ParseFromLexer(peek)
	if err != nil {
		return nil, convertParseError(src, err)
	}
	return tree, nil
}

// errorList sorts errs by position, keeps the first error of each span (a
// lowering error over a checker error about the same text), and returns the
// first few, as an *Error when there is one.
func errorList(errs []*Error) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Offset < errs[j].Offset })
	errs = slices.CompactFunc(errs, func(a, b *Error) bool { return a.Span == b.Span })
	if len(errs) > maxErrors {
		errs = errs[:maxErrors]
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return ErrorList(errs)
}

// convertParseError turns participle's error into an *Error at the
// offending token.
func convertParseError(src string, err error) error {
	var unexpected *participle.UnexpectedTokenError
	if errors.As(err, &unexpected) {
		tok := unexpected.Unexpected
		if tok.Type == tokPunct && tok.Value == "," {
			// A repetition gave up at its separator: what is wrong is what
			// follows the comma.
			tok = nextToken(src, tok.Pos.Offset)
		}
		tok, hint := explain(src, tok)
		span := Span{tok.Pos.Offset, tok.Pos.Offset + len(tok.Value)}
		return newError(src, span, hint, "unexpected %s", describeToken(tok))
	}
	var perr participle.Error
	if errors.As(err, &perr) {
		off := perr.Position().Offset
		return newError(src, Span{off, off + 1}, "", "%s", perr.Message())
	}
	return newError(src, Span{0, len(src)}, "", "%v", err)
}

// describeToken names a token for an error message.
func describeToken(tok lexer.Token) string {
	switch tok.Type {
	case lexer.EOF:
		return "end of query"
	case tokString:
		return "string " + tok.Value
	case tokBool:
		return strings.ToUpper(tok.Value)
	case tokWord:
		if isKeyword(tok.Value) {
			return strings.ToUpper(tok.Value)
		}
		return fmt.Sprintf("%q", tok.Value)
	}
	return fmt.Sprintf("%q", tok.Value)
}

// catchInternal is a last line of defence, not control flow: the limits
// and the grammar are built so that nothing panics, and the fuzz target
// fails on the error this returns. If a panic does happen anyway, a server
// must not die of one bad query, and the user is told it is a bug.
func catchInternal(src string, stmt *Statement, err *error) {
	if r := recover(); r != nil {
		*stmt = nil
		*err = newError(src, Span{0, len(src)}, "this is a bug in Tetra's parser; please report it with the query",
			"%s: %v", internalErrorPrefix, r)
	}
}

// internalErrorPrefix starts the message of an error from a parser panic.
const internalErrorPrefix = "internal error"
