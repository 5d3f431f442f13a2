package lang

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The parse tree. These structs are shaped by the grammar, private to the
// package, and lowered at once into the AST (lower.go). Every struct that
// becomes a node records its Tokens so that lowering can give the node the
// exact byte span it came from.
//
// The grammar, in order of precedence (tightest last):
//
//	statement = metrics | events | traces | topology
//	topology  = ["TOPOLOGY"] or ["AT" time] ["CHANGES" "FROM" time ["TO" time]]
//	or        = and {"OR" and}
//	and       = unary {("AND" | "NOT") unary}      // infix NOT: X minus Y
//	unary     = {"NOT"} primary                    // prefix NOT
//	primary   = "(" or ")" | func | compare
//	func      = word "(" [arg {"," arg}] ")"
//	arg       = word "=" ("(" value {"," value} ")" | "(" or ")" | value)
//	compare   = word (op value | ["NOT"] "IN" "(" value {"," value} ")")
//
// Keywords are matched case-insensitively. AND, OR, NOT and IN are a token
// type of their own and never a key or a value; the other keywords are words,
// reserved only where the grammar expects them, so a tag may be called
// "from" or "limit". Prefix
// NOT is a repetition rather than recursion, and the scanner has bounded the
// parenthesis depth, so the parser's recursion is bounded too.

// pStatement is one TQL statement.
type pStatement struct {
	Metrics  *pMetrics  `parser:"@@"`
	Events   *pEvents   `parser:"| @@"`
	Traces   *pTraces   `parser:"| @@"`
	Topology *pTopology `parser:"| @@"`
}

// pTopology is a topology query with its optional time clauses.
type pTopology struct {
	Tokens  []lexer.Token
	Keyword bool         `parser:"@'TOPOLOGY'?"`
	Query   *pOr         `parser:"@@"`
	At      *lexer.Token `parser:"( 'AT' @(String | Word) )?"`
	Changes *pChanges    `parser:"@@?"`
}

type pChanges struct {
	Tokens []lexer.Token
	From   lexer.Token  `parser:"'CHANGES' 'FROM' @(String | Word)"`
	To     *lexer.Token `parser:"( 'TO' @(String | Word) )?"`
}

type pMetrics struct {
	Tokens    []lexer.Token
	Where     *pOr        `parser:"'METRICS' ( 'WHERE' @@ )?"`
	For       *pFor       `parser:"( 'FOR' @@ )?"`
	Range     *pRange     `parser:"@@?"`
	Aggregate *pAggregate `parser:"@@?"`
	GroupBy   *pGroupBy   `parser:"@@?"`
	Limit     *pLimit     `parser:"@@?"`
}

type pEvents struct {
	Tokens []lexer.Token
	Where  *pOr    `parser:"'EVENTS' ( 'WHERE' @@ )?"`
	For    *pFor   `parser:"( 'FOR' @@ )?"`
	Range  *pRange `parser:"@@?"`
	Limit  *pLimit `parser:"@@?"`
}

type pTraces struct {
	Tokens  []lexer.Token
	Where   *pOr      `parser:"'TRACES' ( 'WHERE' @@ )?"`
	For     *pFor     `parser:"( 'FOR' @@ )?"`
	Range   *pRange   `parser:"@@?"`
	OrderBy *pOrderBy `parser:"@@?"`
	Limit   *pLimit   `parser:"@@?"`
}

// pFor is the parenthesised topology query of a FOR clause.
type pFor struct {
	Query *pTopology `parser:"'(' @@ ')'"`
}

type pRange struct {
	Tokens []lexer.Token
	From   lexer.Token  `parser:"'FROM' @(String | Word)"`
	To     *lexer.Token `parser:"( 'TO' @(String | Word) )?"`
}

type pAggregate struct {
	Tokens []lexer.Token
	Method lexer.Token  `parser:"'AGGREGATE' @(String | Word)"`
	Arg    *lexer.Token `parser:"( '(' @(String | Word) ')' )?"`
	By     *lexer.Token `parser:"( 'BY' @(String | Word) )?"`
}

type pGroupBy struct {
	Tokens []lexer.Token
	Keys   []*pKey `parser:"'GROUP' 'BY' @@ ( ',' @@ )*"`
}

type pKey struct {
	Tok lexer.Token `parser:"@Word"`
}

type pOrderBy struct {
	Tokens []lexer.Token
	Key    lexer.Token  `parser:"'ORDER' 'BY' @Word"`
	Dir    *lexer.Token `parser:"@( 'ASC' | 'DESC' )?"`
}

type pLimit struct {
	Tokens []lexer.Token
	N      lexer.Token `parser:"'LIMIT' @(String | Word)"`
}

// pOr is a run of AND-level terms joined by OR.
type pOr struct {
	Tokens []lexer.Token
	Head   *pAnd   `parser:"@@"`
	Tail   []*pAnd `parser:"( 'OR' @@ )*"`
}

// pAnd is a run of unary terms joined by AND or infix NOT.
type pAnd struct {
	Tokens []lexer.Token
	Head   *pUnary    `parser:"@@"`
	Tail   []*pAndArm `parser:"@@*"`
}

type pAndArm struct {
	Op string  `parser:"@( 'AND' | 'NOT' )"`
	X  *pUnary `parser:"@@"`
}

// pUnary is a primary preceded by any number of prefix NOTs; the first
// len(Nots) Tokens are the NOTs.
type pUnary struct {
	Tokens  []lexer.Token
	Nots    []string  `parser:"@'NOT'*"`
	Primary *pPrimary `parser:"@@"`
}

type pPrimary struct {
	Paren   *pOr      `parser:"'(' @@ ')'"`
	Func    *pFunc    `parser:"| (?= Word '(' ) @@"`
	Compare *pCompare `parser:"| @@"`
}

type pFunc struct {
	Tokens []lexer.Token
	Name   lexer.Token `parser:"@Word '('"`
	Args   []*pArg     `parser:"( @@ ( ',' @@ )* )? ')'"`
}

type pArg struct {
	Tokens []lexer.Token
	Name   lexer.Token `parser:"@Word '='"`
	// A list of values, told from a query by what follows its first value:
	// a comma or the closing parenthesis (a query's first word is followed
	// by an operator).
	List  []*pValue    `parser:"( '(' (?= (String | Word) (',' | ')')) @@ ( ',' @@ )* ')'"`
	Query *pOr         `parser:"| '(' @@ ')'"`
	Value *lexer.Token `parser:"| @(String | Word) )"`
}

// pCompare is key op value, or key [NOT] IN (values).
type pCompare struct {
	Tokens []lexer.Token
	Key    lexer.Token  `parser:"@Word"`
	Op     *lexer.Token `parser:"( @Op"`
	Value  *pValue      `parser:"@@"`
	Not    bool         `parser:"| @'NOT'? 'IN'"`
	List   []*pValue    `parser:"'(' @@ ( ',' @@ )* ')' )"`
}

// pValue is a literal: a string or a bare word. AND, OR, NOT and IN are not
// words (see tokBool), so `name = AND` reports the AND, not what follows.
type pValue struct {
	Tok lexer.Token `parser:"@String | @Word"`
}

// parser is built once; participle parsers are safe for concurrent use.
var parser = participle.MustBuild[pStatement](
	participle.Lexer(lexDef{}),
	participle.CaseInsensitive("Word", "Bool"),
	participle.UseLookahead(1),
)
