package main

import (
	"fmt"
	"os"
	"path/filepath"
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

// TestDeepPropertiesRefused reproduces the review's file: three components
// whose properties nest thousands deep (180 KB) made tetra query --json
// print 600 MB. Loading now refuses them with the path and the limit, and
// writes nothing.
func TestDeepPropertiesRefused(t *testing.T) {
	dir := t.TempDir()
	deep := strings.Repeat(`{"a":`, 9000) + "1" + strings.Repeat("}", 9000)
	var comps []string
	for i := range 3 {
		comps = append(comps, fmt.Sprintf(`{"externalId":"c%d","type":{"name":"x"},"data":{"name":"c%d","deep":%s}}`, i, i, deep))
	}
	file := filepath.Join(dir, "deep.json")
	payload := `{"topologies":[{"instance":{"type":"t","url":"u"},"components":[` + strings.Join(comps, ",") + `],"relations":[]}]}`
	if err := os.WriteFile(file, []byte(payload), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	code, _, errOut := runTetra(t, "", "load", "--data", data, file)
	if code != exitUser || !strings.Contains(errOut, "topologies[0].components[0].data: properties nest 9001 deep; the limit is 64") {
		t.Errorf("exit %d: %.500s", code, errOut)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("a failed load left a store behind: %v", err)
	}
}
