package graphtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// RunState checks a store's writer state (graphstore.StateStore): writes,
// deletes and prefix deletes committed with a batch, in batch order; an
// invalid state operation fails the whole batch, elements included.
func RunState(t *testing.T, open Opener) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := open(t, func() time.Time { return now }, 0)
	defer st.Close()
	ss, ok := st.(graphstore.StateStore)
	if !ok {
		t.Fatalf("%T does not implement graphstore.StateStore", st)
	}
	ctx := context.Background()
	apply := func(b *graphstore.Batch) error {
		_, err := st.Apply(ctx, b)
		return err
	}
	dump := func(prefix string) string {
		var out []string
		if err := ss.ReadState(prefix, func(k string, v []byte) error {
			out = append(out, fmt.Sprintf("%s=%s", k, v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, " ")
	}
	b := &graphstore.Batch{}
	b.PutComponent("s", "a", graphstore.ComponentData{Name: "a"})
	b.SetState("snap/s/b", []byte("2"))
	b.SetState("snap/s/a", []byte("1"))
	b.SetState("snap/t/a", []byte("3"))
	b.SetState("off/0", []byte("9"))
	if err := apply(b); err != nil {
		t.Fatal(err)
	}
	if got, want := dump("snap/"), "snap/s/a=1 snap/s/b=2 snap/t/a=3"; got != want {
		t.Fatalf("after the first batch: %q, want %q", got, want)
	}
	// A prefix delete followed by a write of a key under it: the write wins.
	b = &graphstore.Batch{}
	b.DeleteStatePrefix("snap/s/")
	b.SetState("snap/s/c", []byte("4"))
	b.DeleteState("off/0")
	if err := apply(b); err != nil {
		t.Fatal(err)
	}
	if got, want := dump(""), "snap/s/c=4 snap/t/a=3"; got != want {
		t.Fatalf("after the prefix delete: %q, want %q", got, want)
	}
	// An invalid state operation commits nothing, not the element either.
	b = &graphstore.Batch{}
	b.PutComponent("s", "z", graphstore.ComponentData{Name: "z"})
	b.SetState("", []byte("x"))
	var se *graphstore.StateError
	if err := apply(b); !errors.As(err, &se) {
		t.Fatalf("empty state key: got %v, want a *graphstore.StateError", err)
	}
	sn, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	if id, err := sn.LookupExternal(graphstore.KindComponent, "s", "z"); err != nil || id != 0 {
		t.Fatalf("the refused batch's component: id %d, err %v; want none", id, err)
	}
}
