//go:build race

package receiver_test

// raceEnabled scales the power-loss test down under the race detector.
const raceEnabled = true
