// Package archtest holds the test that keeps Tetra's import arrows pointing
// one way (see docs/architecture.md and docs/style.md). TestImportDirection
// parses the import lists of every package and checks that:
//
//   - internal/topokeys, the topology key vocabulary, imports no project
//     package, so that every layer may use it;
//   - lang imports no project package but internal/topokeys;
//   - planner depends only on lang and internal/topokeys;
//   - the stores (graphstore and below) depend on nothing of the query
//     engine (lang, planner, exec);
//   - only the stores import their shared machinery (graphstore/internal);
//   - only ingest imports the Kafka client;
//   - nothing imports cmd;
//   - only cmd (and the stores themselves, and internal/benchgraph, which
//     opens the benchmark stores) import a concrete store (pebblestore,
//     memstore) outside tests.
//
// It has no non-test code.
package archtest
