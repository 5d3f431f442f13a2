package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/pebblestore"
	"github.com/tetrahq/tetra/lang"
)

// reference encodes a result with encoding/json (HTML escaping off), the
// behaviour AppendJSON's hand-written paths must match byte for byte.
func reference(t *testing.T, res *Result) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	doc := struct {
		SchemaVersion int `json:"schemaVersion"`
		*Result
	}{SchemaVersion, res}
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// nasty strings: escapes, control characters, invalid UTF-8, separators.
var nasty = []string{"", "plain", `quo"te`, `back\slash`, "tab\tnl\ncr\r", "\x00\x01\x1f\x7f", "\b\f",
	"bad \xff utf8", "sep \u2028 \u2029", "<html>&amp;", "日本語", "emoji 🙂"}

// validOnly makes randString return valid UTF-8, as stored strings are
// (ingest replaces invalid bytes), so that results survive a round trip.
var validOnly bool

func randString(r *rand.Rand) string {
	s := nasty[r.IntN(len(nasty))]
	if r.IntN(3) > 0 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		s = string(b)
	}
	if validOnly {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return s
}

func randStrings(r *rand.Rand) []string {
	if r.IntN(5) == 0 {
		return nil
	}
	l := make([]string, r.IntN(4))
	for i := range l {
		l[i] = randString(r)
	}
	return l
}

func randProps(r *rand.Rand) json.RawMessage {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return json.RawMessage(`{"a":[1,2,{"b":"<x>"}],"c":null}`)
	}
	p, _ := json.Marshal(map[string]string{"k": randString(r)})
	return p
}

func randSources(r *rand.Rand) []graphstore.SourceRef {
	if r.IntN(5) == 0 {
		return nil
	}
	return []graphstore.SourceRef{{Source: randString(r), ExternalID: randString(r)}}
}

func randComponent(r *rand.Rand) Component {
	return Component{ID: r.Uint64(), Name: randString(r), Type: randString(r), Layer: randString(r),
		Domain: randString(r), Environments: randStrings(r), Labels: randStrings(r), Identifiers: randStrings(r),
		HealthState: randString(r), Properties: randProps(r), Sources: randSources(r), LastUpdateTimestamp: r.Int64() - r.Int64()}
}

func randRelation(r *rand.Rand) Relation {
	return Relation{ID: r.Uint64(), Type: randString(r), Source: r.Uint64(), Target: r.Uint64(),
		DependencyDirection: randString(r), Labels: randStrings(r), Identifiers: randStrings(r),
		Properties: randProps(r), Sources: randSources(r), LastUpdateTimestamp: r.Int64()}
}

func randElements(r *rand.Rand) Elements {
	var el Elements
	if r.IntN(6) > 0 {
		el.Components = make([]Component, r.IntN(5))
		for i := range el.Components {
			el.Components[i] = randComponent(r)
		}
	}
	if r.IntN(6) > 0 {
		el.Relations = make([]Relation, r.IntN(5))
		for i := range el.Relations {
			el.Relations[i] = randRelation(r)
		}
	}
	return el
}

func randResult(r *rand.Rand) *Result {
	at := time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).UTC()
	if r.IntN(2) == 0 {
		el := randElements(r)
		return &Result{Topology: &TopologyResult{EvaluatedAt: at, Truncated: r.IntN(2) == 0, Components: RowsOf(el.Components), Relations: RowsOf(el.Relations)}}
	}
	c := &ChangesResult{From: at.Add(-time.Hour), To: at, Added: randElements(r), Removed: randElements(r)}
	for range r.IntN(3) {
		c.Changed.Components = append(c.Changed.Components, ComponentChange{randComponent(r), randComponent(r), randStrings(r)})
	}
	for range r.IntN(3) {
		c.Changed.Relations = append(c.Changed.Relations, RelationChange{randRelation(r), randRelation(r), randStrings(r)})
	}
	return &Result{Changes: c}
}

// TestAppendJSONMatchesEncodingJSON: the hand-written encoder writes what
// encoding/json writes, for random results full of awkward strings; and
// DecodeJSON reads it back to an equal result.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	defer func() { validOnly = false }()
	for i := range 4000 {
		validOnly = i >= 2000
		res := randResult(r)
		got, err := AppendJSON(context.Background(), nil, res, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := reference(t, res)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d:\ngot  %s\nwant %s", i, got, want)
		}
		if !validOnly {
			continue
		}
		back, err := DecodeJSON(got)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := AppendJSON(context.Background(), nil, back, EncodeOptions{})
		if !bytes.Equal(again, got) {
			t.Fatalf("case %d: decode and encode again changed the document:\n%s\n%s", i, got, again)
		}
	}
}

// TestAppendJSONGenericPart: a result part the encoder has no fast path for
// is written by encoding/json under its json name.
func TestAppendJSONGenericPart(t *testing.T) {
	// Result's parts are found by reflection; a part added to Result later
	// (Metrics, Events, Traces) takes the generic path, as this one does.
	e := &encoder{ctx: context.Background()}
	if err := e.part(&struct {
		N int    `json:"n"`
		S string `json:"s"`
	}{3, "<a>"}); err != nil {
		t.Fatal(err)
	}
	if got := string(e.b); got != `{"n":3,"s":"<a>"}` {
		t.Errorf("got %s", got)
	}
	if len(resultParts) != reflect.TypeFor[Result]().NumField() {
		t.Errorf("every field of Result is a part: %v", resultParts)
	}
}

// TestAppendJSONDeepProperties reproduces the review's finding: three
// components with properties nested thousands deep made the indented
// output grow with the square of the depth (a 180 KB input gave 600 MB).
// The encoder writes properties as stored, so the output stays linear.
func TestAppendJSONDeepProperties(t *testing.T) {
	const depth = 9000 // encoding/json's decoder accepts up to 10000
	props := json.RawMessage(strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth))
	var comps []Component
	in := 0
	for i := range 3 {
		comps = append(comps, Component{ID: uint64(i), Properties: props})
		in += len(props)
	}
	res := &Result{Topology: &TopologyResult{Components: RowsOf(comps)}}
	out, err := AppendJSON(context.Background(), nil, res, EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > in+4096 {
		t.Errorf("%d bytes of properties encode to %d bytes", in, len(out))
	}
}

// TestAppendJSONLimits: the size limit and the context stop the encoding
// with their own errors.
func TestAppendJSONLimits(t *testing.T) {
	var comps []Component
	for i := range 1000 {
		comps = append(comps, Component{ID: uint64(i), Name: strings.Repeat("x", 100)})
	}
	res := &Result{Topology: &TopologyResult{Components: RowsOf(comps)}}
	_, err := AppendJSON(context.Background(), nil, res, EncodeOptions{MaxBytes: 10_000})
	var le *ResponseLimitError
	if !errors.As(err, &le) || le.Limit != 10_000 {
		t.Errorf("limit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := AppendJSON(ctx, nil, res, EncodeOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	bad := &Result{Topology: &TopologyResult{Components: RowsOf([]Component{{Properties: json.RawMessage(`{"a":`)}})}}
	if _, err := AppendJSON(context.Background(), nil, bad, EncodeOptions{}); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Errorf("damaged properties: %v", err)
	}
}

// TestDecodeJSONVersion refuses a document of another schema version.
func TestDecodeJSONVersion(t *testing.T) {
	if _, err := DecodeJSON([]byte(`{"schemaVersion":2,"topology":{}}`)); err == nil || !strings.Contains(err.Error(), "schema version 2") {
		t.Errorf("got %v", err)
	}
}

// TestAppendStringEveryPosition: a byte that needs escaping (or is beyond
// ASCII) is caught wherever it stands in a string, inside or outside the
// eight-byte runs the encoder skips at once, as encoding/json writes it.
func TestAppendStringEveryPosition(t *testing.T) {
	specials := []string{"\x00", "\x1f", "\"", "\\", "\x7f", "é", "\u2028", "\xff", " ", "~"}
	for n := 1; n <= 24; n++ {
		for pos := range n {
			for _, sp := range specials {
				s := strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos-1)
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(s); err != nil {
					t.Fatal(err)
				}
				want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
				if got := appendString(nil, s); !bytes.Equal(got, want) {
					t.Fatalf("%q: got %s, want %s", s, got, want)
				}
			}
		}
	}
}

// TestRunJSONLimits: RunJSON stops at the size limit and at the
// caller's cancellation with their own errors, as AppendJSON does, and
// its topology part has Result.Topology's name.
func TestRunJSONLimits(t *testing.T) {
	if resultParts[0].name != topologyPart || resultParts[0].index != 0 {
		t.Fatalf("Result's first part is %+v, not the topology part RunJSON writes", resultParts[0])
	}
	st, err := pebblestore.Open(t.TempDir(), pebblestore.Options{Now: graphtest.Clock, Retention: graphtest.Retention, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	graphtest.Apply(t, st, 10, func(b *graphstore.Batch) {
		for i := range 300 {
			b.PutComponent("s", fmt.Sprint(i), graphstore.ComponentData{Name: strings.Repeat("x", 100) + fmt.Sprint(i), Type: "t"})
		}
	})
	eng := New(st, Options{Now: graphtest.Clock})
	stmt, err := lang.Parse(`type = "t"`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = eng.RunJSON(context.Background(), nil, stmt, QueryOptions{}, EncodeOptions{MaxBytes: 10_000, Cache: NewEncodeCache()})
	var le *ResponseLimitError
	if !errors.As(err, &le) || le.Limit != 10_000 {
		t.Errorf("limit: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eng.RunJSON(ctx, nil, stmt, QueryOptions{}, EncodeOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := eng.RunJSON(context.Background(), nil, stmt, QueryOptions{MaxElements: 10}, EncodeOptions{}); !errors.As(err, new(*LimitError)) {
		t.Errorf("element limit: %v", err)
	}
}
