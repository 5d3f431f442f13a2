//go:build race

package exec_test

// raceEnabled scales the heaviest tests down under the race detector, which
// runs them several times slower: they check concurrency there, not volume.
const raceEnabled = true
