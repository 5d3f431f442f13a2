// Package planner turns a checked lang AST into a logical plan: a tree of
// named operators (index scan, full scan, filter, union, intersect,
// difference, expand neighbours, time scope) built through the Factory
// interface, improved by named rewrites that tests and EXPLAIN refer to, and
// drawn as a tree by Explain.
//
// The planner sees storage only through the Catalog interface it defines
// (cardinality estimates for index terms); it never imports the executor.
package planner
