// Package lang owns TQL, Tetra's query language: the lexer, the participle
// grammar, the lowering of participle's parse tree into a small sealed AST,
// the printer that turns an AST back into canonical text, the checker for
// semantic errors, and the positioned error type every other layer renders.
//
// Data flows one way:
//
//	source text ─► lexer (tokens with byte offsets)
//	            ─► participle grammar (parse tree shaped by the grammar)
//	            ─► lower (sealed AST, a Span on every node)
//	            ─► check (unknown keys, functions, arguments, times, types)
//	            ─► Statement
//
// The topology part of TQL is StackState's STQL; docs/query-language.md is
// the contract. lang imports no other Tetra package.
package lang
