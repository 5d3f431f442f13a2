// Command tetra is Tetra's one binary. Wiring of concrete parts (which store,
// which log, which address) and all configuration live here and nowhere else.
//
//	tetra parse 'QUERY' | -f FILE     canonical form or a positioned error
//	tetra load [--data DIR] FILE…     load topology, metrics, events and spans into a data directory
//	tetra query [--data DIR] 'QUERY'  run a TQL statement
//
// Exit status: 0 on success, 1 on a user error (bad query, bad input), 2 on
// misuse. Errors go to stderr.
package main
