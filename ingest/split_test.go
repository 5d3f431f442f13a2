package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSplit checks the scanner that splits objects and lists against
// encoding/json, on every valid document and on each of its nested values.
func FuzzSplit(f *testing.F) {
	files, _ := filepath.Glob("../testdata/topology/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{"a\"b": [1, -2.5e3, true, null, "x\\"], "c" : {"d":{}} , "a\"b": "last"}`,
		`[ [], {}, "", "\u00e9\ud83d\ude00", 0 ]`, "{\"\xff\": \"\xfe\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		checkSplit(t, bytes.TrimSpace(b), 0)
	})
}

func checkSplit(t *testing.T, raw []byte, depth int) {
	if depth > 64 {
		return
	}
	switch kindOf(raw) {
	case '{':
		var want map[string]json.RawMessage
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got := splitObject(raw)
		if len(got) != len(want) {
			t.Fatalf("%s: split into %d members, encoding/json into %d", raw, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("%s: member %q is %s, encoding/json says %s", raw, k, got[k], v)
			}
			checkSplit(t, got[k], depth+1)
		}
	case '[':
		var want []json.RawMessage
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got := splitList(raw)
		if len(got) != len(want) {
			t.Fatalf("%s: split into %d elements, encoding/json into %d", raw, len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%s: element %d is %s, encoding/json says %s", raw, i, got[i], want[i])
			}
			checkSplit(t, got[i], depth+1)
		}
	case '"':
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		if got := unquote(raw); got != want {
			t.Fatalf("%s: unquoted to %q, encoding/json says %q", raw, got, want)
		}
	}
}
