// Package topokeys is the one home of the topology key vocabulary: the STQL
// keys a topology filter may name (name, type, layer, domain, environment,
// label, healthstate, identifier, id), their aliases, which of them compare
// case-insensitively, and the values an enumerated key accepts.
//
// Every layer reads the rule from here: lang checks keys and canonicalises
// them, the planner puts values in index form, graphstore indexes component
// values in the same form (graphstore's key table says which index serves a
// key and how a component carries it), and exec matches loaded components
// with the same fold. Adding a key means a line here and a line in
// graphstore's key table.
//
// The package imports nothing of the project, so that lang, at the bottom of
// the stack, may use it (internal/archtest allows exactly this).
package topokeys
