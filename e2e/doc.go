// Package e2e tests tetra as a newcomer meets it: the release build of the
// binary (tetra --version, completion scripts), tetra serve --demo started
// as a process, and README.md's tour run against it over every surface
// (the tetra command and REST, the REPL in a pseudo-terminal, a live
// subscription over WebSocket, MCP). The tour's commands and the outputs
// README shows are read from README.md itself, so the two cannot drift
// apart. The package has only tests.
package e2e
