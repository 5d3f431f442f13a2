// Package browsertest finds the headless Chromium that the browser tests
// (the web view's, and the end-to-end check of the demo's web view) drive
// with chromedp: $TETRA_CHROMIUM, else a Chromium or Chrome on PATH
// (.ci/run installs Debian's chromium when none is there). Without one the
// tests skip, loudly, saying what did not run.
package browsertest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Find returns the browser to drive, or "".
func Find() string {
	if p := os.Getenv("TETRA_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Need returns the browser to drive, or skips t loudly, saying that what
// did not run (e.g. "the web view's browser tests did not run").
func Need(t testing.TB, what string) string {
	t.Helper()
	p := Find()
	if p == "" {
		msg := "SKIPPED: no Chromium found (set TETRA_CHROMIUM or apt-get install chromium); " + what
		fmt.Fprintln(os.Stderr, "\n!!!!! "+msg+" !!!!!")
		t.Skip(msg)
	}
	return p
}
