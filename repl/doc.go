// Package repl owns Tetra's terminal surface: the text rendering of query
// results (tables of components and relations, lists of changes) that
// `tetra query` prints, and, with its issue, the interactive shell that will
// read statements, print the same tables and positioned errors, and keep
// history.
package repl
