// Package archtest holds the test that keeps Tetra's import arrows pointing
// one way (see docs/architecture.md and docs/style.md). It has no non-test
// code.
package archtest
