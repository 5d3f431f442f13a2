package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// checkParse: whatever parseQueryRequest takes, encoding/json (as
// decodeBody reads) takes too, to the same request.
func checkParse(t *testing.T, body []byte) bool {
	t.Helper()
	var fast QueryRequest
	if !parseQueryRequest(body, &fast) {
		return false
	}
	var slow QueryRequest
	if err := decodeDocument(bytes.NewReader(body), &slow, 1<<20); err != nil {
		t.Fatalf("parseQueryRequest took %q to %+v; encoding/json refuses it: %v", body, fast, err)
	}
	if fast != slow {
		t.Fatalf("%q: parseQueryRequest reads %+v, encoding/json %+v", body, fast, slow)
	}
	return true
}

// TestParseQueryRequestTakesWhatClientsSend: the bodies clients send (Go's
// and curl's, with escapes, other fields, whitespace) take the path
// without reflection.
func TestParseQueryRequestTakesWhatClientsSend(t *testing.T) {
	for _, body := range []string{
		`{}`,
		`{"query":"label = \"app:1\""}`,
		`{"query": "name = \"orders-db\""}`,
		` { "query" : "type = \"service\" AND label = \"x\"" , "at" : "-1h", "timeoutMs": 500, "maxElements": 10 } ` + "\n",
		`{"query":"a\\b\/c\n\t\r\b\f","maxElements":0,"timeoutMs":-0}`,
		`{"query":"名前 = \"ü\"","query":"later wins"}`,
		`{"timeoutMs":999999999999999999}`,
		`{"query":"\u0041\u00e9\u2028\u003c\u0000\uFFFF"}`,
	} {
		if !checkParse(t, []byte(body)) {
			t.Errorf("%s: not taken", body)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		req := QueryRequest{Query: randText(r), At: randText(r), TimeoutMs: r.Int64N(1e6), MaxElements: r.IntN(1e6)}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(req)
		if !checkParse(t, buf.Bytes()) {
			t.Errorf("%s: not taken", buf.Bytes())
		}
	}
}

// TestParseQueryRequestLeavesTheRest: bodies encoding/json reads
// differently or refuses go to it.
func TestParseQueryRequestLeavesTheRest(t *testing.T) {
	for _, body := range []string{
		``, `{`, `[]`, `null`, `{"query":"x"} {}`, `{"query":"x",}`, `{"Query":"x"}`, `{"QUERY":"x"}`,
		`{"query":null}`, `{"query":"\ud83d\ude00"}`, `{"query":"\ud83d"}`, `{"query":"\u00g1"}`, `{"query":"\u00"}`, `{"query":"\x"}`, `{"query":"a` + "\x01" + `"}`,
		`{"query":"` + "\xff" + `"}`, `{"query":1}`, `{"timeoutMs":"1"}`, `{"timeoutMs":1.0}`, `{"timeoutMs":1e3}`,
		`{"timeoutMs":01}`, `{"timeoutMs":-}`, `{"timeoutMs":9999999999999999999}`, `{"other":1}`, `{"query":"x"`,
		`{"q\u0075ery":"x"}`, `{"query":"x"}x`, `{"query" "x"}`,
	} {
		if checkParse(t, []byte(body)) {
			t.Errorf("%q: taken", body)
		}
	}
}

// TestParseQueryRequestRandom mutates bodies at random: parseQueryRequest
// never takes one encoding/json reads differently.
func TestParseQueryRequestRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	seeds := []string{
		`{"query":"label = \"app:1\"","at":"-1h","timeoutMs":500,"maxElements":10}`,
		`{ "query" : "a\\b\/c\n" , "maxElements" : -12 }`,
		`{"query":"名前","at":"2026-01-01T00:00:00Z"}`,
		`{"query":"\u00e9\ud83d\ude00\u0041"}`,
	}
	const alphabet = "{}[]\":,\\/ \t\n\r0123456789abcdefABCDEF-+.eEnulltrsquryatimoMsxd\u00fc\xff\x00\x1fu"
	taken := 0
	for range 50_000 {
		b := []byte(seeds[r.IntN(len(seeds))])
		for range 1 + r.IntN(3) {
			i := r.IntN(len(b) + 1)
			switch r.IntN(3) {
			case 0: // insert
				b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
			case 1: // delete
				if i < len(b) {
					b = append(b[:i], b[i+1:]...)
				}
			default: // replace
				if i < len(b) {
					b[i] = alphabet[r.IntN(len(alphabet))]
				}
			}
		}
		if checkParse(t, b) {
			taken++
		}
	}
	t.Logf("%d of the mutated bodies taken without reflection", taken)
}

// FuzzParseQueryRequest: go test -fuzz FuzzParseQueryRequest ./api
func FuzzParseQueryRequest(f *testing.F) {
	f.Add([]byte(`{"query":"label = \"app:1\"","timeoutMs":5}`))
	f.Add([]byte(`{"query":"\u00fc\n","maxElements":-0}`))
	f.Fuzz(func(t *testing.T, body []byte) { checkParse(t, body) })
}

func randText(r *rand.Rand) string {
	const chars = `abc "\/:=` + "\n\t\x01\u00e9\u2028<>&"
	var b strings.Builder
	for range r.IntN(30) {
		b.WriteString(string([]rune(chars)[r.IntN(len([]rune(chars)))]))
	}
	return b.String()
}
