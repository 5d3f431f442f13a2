package usermsg

import (
	"errors"
	"fmt"
	"testing"
)

func TestStrip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"exec: unsupported statement: METRICS statements need …", "unsupported statement: METRICS statements need …"},
		{"graphstore: batch time x is before y", "batch time x is before y"},
		{"the data directory d holds damaged data: pebblestore: bad key: graphstore: corrupt data", "the data directory d holds damaged data: bad key: corrupt data"},
		{"QueryError: exec: the query holds more (in name = \"*\")", "QueryError: the query holds more (in name = \"*\")"},
		{"x (exec: y)", "x (y)"},
		{"open foo: no such file or directory", "open foo: no such file or directory"},
		{"name = \"exec: x\"", "name = \"exec: x\""},
		{"executive: x", "executive: x"},
		{"exec:", "exec:"},
		{"", ""},
	} {
		if got := Strip(tc.in); got != tc.want {
			t.Errorf("Strip(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	err := fmt.Errorf("ingest: file x: %w", errors.New("exec: boom"))
	if got, want := Render("q", err), "error: file x: boom\n"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}
