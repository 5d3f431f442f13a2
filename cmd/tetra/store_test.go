package main

import (
	"strings"
	"testing"

	"github.com/tetrahq/tetra/graphstore/pebblestore"
)

// TestDataDirInUse: a data directory another process (here: this one) has
// open is reported as in use, not as a bare lock error.
func TestDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	st, err := pebblestore.Open(dir, pebblestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	code, _, errOut := runTetra(t, "", "load", "--data", dir, "../../testdata/topology/webshop-agent.json")
	if code != exitUser || !strings.Contains(errOut, "is in use by another tetra process") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}
