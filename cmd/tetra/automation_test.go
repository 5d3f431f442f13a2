package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const countServices = `
name: count-services
kind: scheduled
schedule: "@yearly"
script: |
  Topology.query('type = "service"').components().thenCollect(c => c.name)
---
name: broken
kind: scheduled
schedule: "@yearly"
script: |
  throw new Error("the report has no data")
`

// TestAutomationCLI: tetra automation against a data directory and against
// a server prints the same for every subcommand, and the definitions and
// runs kept in the data directory are what the server then serves.
func TestAutomationCLI(t *testing.T) {
	dir := t.TempDir()
	loadWebshop(t, dir)
	file := filepath.Join(t.TempDir(), "autos.yaml")
	if err := os.WriteFile(file, []byte(countServices), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := [][]string{
		{"apply", "-f", file},
		{"run", "count-services"},
		{"run", "broken"},
		{"list"},
		{"runs", "count-services"},
		{"runs", "--json", "broken"},
		{"delete", "broken"},
		{"list", "--json"},
		{"run", "none"},
	}
	local := make([]string, len(steps))
	for i, args := range steps {
		code, out, errOut := runTetra(t, "", append([]string{"automation", args[0], "--data", dir}, args[1:]...)...)
		local[i] = strings.Join([]string{string(rune('0' + code)), out, errOut}, "\n")
	}
	if !strings.Contains(local[1], `"value": [`) || !strings.Contains(local[2], "the report has no data") || local[2][0] != '1' {
		t.Errorf("local runs:\n%s\n%s", local[1], local[2])
	}
	if !strings.Contains(local[3], "count-services  scheduled  @yearly") {
		t.Errorf("local list:\n%s", local[3])
	}
	// The same steps against a server over a fresh copy of the data.
	dir2 := t.TempDir()
	loadWebshop(t, dir2)
	hs := scriptServer(t, dir2, nil)
	for i, args := range steps {
		code, out, errOut := runTetra(t, "", append([]string{"automation", args[0], "--server", hs.URL}, args[1:]...)...)
		got := strings.Join([]string{string(rune('0' + code)), out, errOut}, "\n")
		if got != local[i] && !sameButTimes(got, local[i]) {
			t.Errorf("%q:\n--data:\n%s\n--server:\n%s", args, local[i], got)
		}
	}
	// What the data directory keeps, a server over it serves.
	hs1 := scriptServer(t, dir, nil)
	code, out, _ := runTetra(t, "", "automation", "runs", "--server", hs1.URL, "count-services")
	if code != exitOK || !strings.Contains(out, `["frontend","checkout","catalog"]`) {
		t.Errorf("runs kept in the data directory: %d\n%s", code, out)
	}
}

// sameButTimes compares two outputs with their durations left out (a
// run's duration differs between two runs).
func sameButTimes(a, b string) bool {
	strip := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, `"durationMs"`) {
				continue
			}
			f := strings.Fields(l)
			for i, w := range f {
				if strings.HasSuffix(w, "ms") {
					f[i] = "Nms"
				}
			}
			out = append(out, strings.Join(f, " "))
		}
		return strings.Join(out, "\n")
	}
	return strip(a) == strip(b)
}

// TestAutomationMisuse: wrong arguments are misuse; mistakes in a file are
// all reported and nothing is applied.
func TestAutomationMisuse(t *testing.T) {
	dir := t.TempDir()
	loadWebshop(t, dir)
	for _, args := range [][]string{
		{"automation"},
		{"automation", "launch"},
		{"automation", "apply", "--data", dir},
		{"automation", "run", "--data", dir},
		{"automation", "list", "--data", dir, "--event", "{}"},
		{"automation", "list", "--data", dir, "--server", "http://x"},
	} {
		if code, _, _ := runTetra(t, "", args...); code != exitMisuse {
			t.Errorf("%q: exit %d", args, code)
		}
	}
	bad := "name: a\nkind: monitor\nscript: '[]'\n---\nname: b\nkind: scheduled\nschedule: nope\nscript: 'x +* 1'\n"
	code, _, errOut := runTetra(t, bad, "automation", "apply", "--data", dir, "-f", "-")
	if code != exitUser || !strings.Contains(errOut, "automation a: a monitor needs an interval") ||
		!strings.Contains(errOut, "automation b: script: syntax error") || !strings.Contains(errOut, "schedule:") {
		t.Errorf("bad file: %d %s", code, errOut)
	}
	code, out, _ := runTetra(t, "", "automation", "list", "--data", dir)
	if code != exitOK || strings.Count(out, "\n") != 1 {
		t.Errorf("applied despite mistakes:\n%s", out)
	}
}
