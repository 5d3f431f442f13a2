// Package lang owns TQL, Tetra's query language: the lexer, the participle
// grammar, the lowering of participle's parse tree into a small sealed AST,
// the printer that turns an AST back into canonical text, the checker for
// semantic errors, and the positioned error type every other layer renders.
//
// Data flows one way:
//
//	source text ─► scanner (lexer.go: tokens with byte offsets; MaxBytes,
//	               MaxTokens and MaxDepth enforced while scanning)
//	            ─► participle grammar (grammar.go: parse tree shaped by the grammar)
//	            ─► lower (lower.go: sealed AST, a Span on every node; escapes,
//	               numbers, times, durations, function arguments, MaxListValues)
//	            ─► check (check.go: keys per statement kind, operators, values,
//	               clauses that cannot go together; puts keys in canonical form)
//	            ─► Statement
//
// Every stage reports *Error values (errors.go) with the span of the
// offending text; a lexical or syntax error stops at once, lowering and
// checking collect up to a few errors in source order. Render prints them
// with the source line and a caret.
//
// Format (format.go) prints any node in canonical form, and Parse of that
// text gives back an Equal AST (equal.go). Inspect (walk.go) walks the AST.
//
// The topology part of TQL is StackState's STQL; docs/query-language.md is
// the contract, and its "Decisions" subsections record what this package
// decided where the contract is silent. lang imports no other Tetra
// package.
package lang
