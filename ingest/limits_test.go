package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/internal/topogen"
)

// payload wraps one component's data in an intake payload.
func payload(t testing.TB, data map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"topologies": []any{map[string]any{
		"instance":   map[string]any{"type": "t", "url": "u"},
		"components": []any{map[string]any{"externalId": "c", "type": map[string]any{"name": "t"}, "data": data}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func strs(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// TestLimits checks that the store's limits are enforced while decoding,
// with the JSON path, and that whatever decodes at the limit the store
// accepts.
func TestLimits(t *testing.T) {
	long := strings.Repeat("x", graphstore.MaxStringBytes)
	ids := func(n int) []string { return strs(n, func(i int) string { return fmt.Sprintf("urn:x:%d", i) }) }
	for _, tc := range []struct {
		name string
		data map[string]any
		err  string // "" when the payload must decode and apply
	}{
		{"name at limit", map[string]any{"name": long}, ""},
		{"name over limit", map[string]any{"name": long + "x"},
			"topologies[0].components[0].data.name: string is 4097 bytes long; the limit is 4096"},
		{"label over limit", map[string]any{"labels": []string{"a", long + "x"}},
			"topologies[0].components[0].data.labels[1]: string is 4097 bytes long"},
		{"tag key over limit", map[string]any{"tags": map[string]string{long + "x": ""}},
			"data.tags." + long + "x: string is 4097 bytes long"},
		{"label from an object tag over limit", map[string]any{"tags": map[string]string{"k": long}},
			"data.tags.k: string is 4098 bytes long"},
		{"identifiers at limit", map[string]any{"identifiers": ids(graphstore.MaxListLen)}, ""},
		{"identifiers over limit, counting lifted ones", map[string]any{
			"identifiers": ids(graphstore.MaxListLen), "tags": []string{"stackstate-identifier:urn:y"}},
			"topologies[0].components[0].data: 1025 distinct identifiers; the limit is 1024"},
		{"duplicates count once", map[string]any{"labels": append(ids(graphstore.MaxListLen), ids(10)...)}, ""},
		{"properties over limit", map[string]any{"blob": strings.Repeat("y", graphstore.MaxPropertiesBytes)},
			"topologies[0].components[0].data: properties are 65547 bytes as compact JSON; the limit is 64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topos, err := ingest.Decoder{}.DecodeBytes(payload(t, tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := memstore.New(memstore.Options{})
			defer st.Close()
			if _, err := ingest.NewApplier(st).Apply(context.Background(), topos, graphtest.Base); err != nil {
				t.Fatalf("the store refused what decoded: %v", err)
			}
		})
	}
}

func TestErrorClasses(t *testing.T) {
	_, err := ingest.Decoder{MaxBytes: 10}.Decode(strings.NewReader(`{"topologies": []}`))
	if !errors.Is(err, ingest.ErrTooLarge) {
		t.Errorf("oversized payload: got %v, want ErrTooLarge", err)
	}
	_, err = ingest.Decoder{}.DecodeBytes([]byte(`{"topologies": [{"instance": 1}]}`))
	var e *ingest.Error
	if !errors.As(err, &e) || e.Path != "topologies[0].instance" {
		t.Errorf("wrong type: got %#v, want an *ingest.Error at topologies[0].instance", err)
	}
}

// TestConcurrentApply applies snapshots of many sources at once; run with
// -race.
func TestConcurrentApply(t *testing.T) {
	st := memstore.New(memstore.Options{})
	defer st.Close()
	ap := ingest.NewApplier(st)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				doc := fmt.Sprintf(`{"topologies": [{"instance": {"type": "g", "url": "%d"},
					"start_snapshot": true, "stop_snapshot": %t,
					"components": [{"externalId": "g%d-c%d", "type": {"name": "t"}}]}]}`, g, i%2 == 1, g, i)
				topos, err := ingest.Decoder{}.DecodeBytes([]byte(doc))
				if err == nil {
					_, err = ap.Apply(context.Background(), topos, time.Time{})
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if open := ap.OpenSnapshots(); len(open) != 0 {
		t.Errorf("snapshots left open: %v", open)
	}
	sn, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	ids, err := sn.Postings(graphstore.IdxKind, graphstore.TermComponent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 8 { // each source's last snapshot holds its c9 alone
		t.Errorf("got %d components, want 8", len(ids))
	}
}

// FuzzDecode checks that no payload panics the decoder, and that whatever
// decodes the store accepts: the decoder's checks cover the store's.
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"instance_key": {"type": "a", "url": "b"}, "components": [{"id": "x", "type": "t", "data": {"tags": {"k": "v"}}}]}]`))
	f.Add([]byte(`{"topologies": [{"components": [{"externalId": "x", "data": {"labels": "a,b", "tags": ["stackstate-identifiers:a b"]}}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		topos, err := ingest.Decoder{DefaultSource: "fuzz:default", MaxBytes: 1 << 20}.DecodeBytes(b)
		if err != nil {
			var l *ingest.ErrorList
			if !errors.As(err, &l) && !errors.Is(err, ingest.ErrTooLarge) {
				t.Fatalf("error of an unexpected class: %v", err)
			}
			return
		}
		st := memstore.New(memstore.Options{})
		defer st.Close()
		// What the decoder accepts, the store must take. The applier may
		// still refuse a payload for the state it finds (a stop_snapshot with
		// no snapshot open: an *ingest.Error with its path); any other error,
		// a refused operation above all, means the decoder let through
		// something it should have reported.
		_, err = ingest.NewApplier(st).Apply(context.Background(), topos, graphtest.Base)
		var userErr *ingest.Error
		if err != nil && !errors.As(err, &userErr) {
			t.Fatalf("decoded, but applying it failed: %v\npayload: %s", err, bytes.TrimSpace(b))
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	doc, err := os.ReadFile(filepath.Join(fixtures, "webshop-kubernetes.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := (ingest.Decoder{}).DecodeBytes(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeIntake decodes what the receiver benchmark's agents send:
// an intake payload of 100 components and 100 relations.
func BenchmarkDecodeIntake(b *testing.B) {
	doc := topogen.IntakePayload(0, 1, 100)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := (ingest.Decoder{}).DecodePayloadChecked(doc); err != nil {
			b.Fatal(err)
		}
	}
}
