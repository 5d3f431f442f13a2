package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSplit checks the scanner that splits objects and lists, and compact,
// against encoding/json, on every valid document and on each of its nested
// values.
func FuzzSplit(f *testing.F) {
	files, _ := filepath.Glob("../testdata/topology/*.json")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{"a\"b": [1, -2.5e3, true, null, "x\\"], "c" : {"d":{}} , "a\"b": "last"}`, "{ \"s p\" :\t[ 1 ,\r\n2 ] }",
		`[ [], {}, "", "\u00e9\ud83d\ude00", 0 ]`, "{\"\xff\": \"\xfe\"}", manyKeys(40)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		checkSplit(t, &dec{}, bytes.TrimSpace(b), 0)
	})
}

// manyKeys is an object of n keys, every fifth given twice, so that
// splitting it goes past indexAbove and finds duplicates by its map.
func manyKeys(n int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d": %d, `, i, i)
		if i%5 == 0 {
			fmt.Fprintf(&b, `"k%d": "again", `, i/5)
		}
	}
	b.WriteString(`"k0": "last"}`)
	return b.String()
}

// checkSplit checks raw split by splitObject and by d's arena (shared by
// every object of the document, as in a walk).
func checkSplit(t *testing.T, d *dec, raw []byte, depth int) {
	if depth > 64 {
		return
	}
	var want bytes.Buffer
	if err := json.Compact(&want, raw); err != nil {
		t.Fatal(err)
	}
	if got := compact(raw); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("%s: compacted to %s, encoding/json says %s", raw, got, want.Bytes())
	}
	switch kindOf(raw) {
	case '{':
		var want map[string]json.RawMessage
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		for _, got := range []object{splitObject(raw), d.splitObject(raw, nil)} {
			if got.len() != len(want) {
				t.Fatalf("%s: split into %d members, encoding/json into %d", raw, got.len(), len(want))
			}
			for k, v := range want {
				if !bytes.Equal(got.get(k), v) {
					t.Fatalf("%s: member %q is %s, encoding/json says %s", raw, k, got.get(k), v)
				}
			}
		}
		for _, v := range want {
			checkSplit(t, d, v, depth+1)
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
			checkSplit(t, d, got[i], depth+1)
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
