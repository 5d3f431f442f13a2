package topogen_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tetrahq/tetra/graphstore/memstore"
	"github.com/tetrahq/tetra/internal/topogen"
)

// TestSmall generates a small topology into the reference store and checks
// the shape the benchmarks rely on.
func TestSmall(t *testing.T) {
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg := topogen.Config{Components: 300, RelationsPer: 3, Hours: 3, ChurnShare: 0.02, AddRemove: 3, BatchSize: 200, Seed: 1, End: end}
	st := memstore.New(memstore.Options{Now: func() time.Time { return end }})
	g := topogen.New(cfg)
	stats, err := g.Load(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if stats.InitialElements != 300*4 {
		t.Errorf("initial elements %d, want %d", stats.InitialElements, 1200)
	}
	if len(g.Alive()) != 300 {
		t.Errorf("%d components alive, want 300 (as many added as removed)", len(g.Alive()))
	}
	sn, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	comps, _ := sn.Postings(3 /* type */, "service")
	if len(comps) == 0 {
		t.Error("no services generated")
	}
	app, _ := sn.Postings(7 /* label */, "app:2")
	if len(app) < 90 || len(app) > 100 {
		t.Errorf("label app:2 selects %d components, want about 100", len(app))
	}
}

// TestUniform: the uniform shape scatters a label's components over the id
// space and names components c<i>.
func TestUniform(t *testing.T) {
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg := topogen.Config{Components: 1000, RelationsPer: 3, BatchSize: 500, Seed: 1, End: end, Shape: topogen.Uniform}
	st := memstore.New(memstore.Options{Now: func() time.Time { return end }})
	if _, err := topogen.New(cfg).Load(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	sn, err := st.Snapshot(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	app, _ := sn.Postings(7 /* label */, "app:3")
	if len(app) != 100 || app[99]-app[0] < 500 {
		t.Errorf("label app:3 selects %d components from id %d to %d, want 100 spread over the ids", len(app), app[0], app[len(app)-1])
	}
	if named, _ := sn.Postings(2 /* name */, "c17"); len(named) != 1 {
		t.Errorf("name c17 selects %d components, want 1", len(named))
	}
}

// TestProgress: a generation reports every batch, each phase counting up
// to its total (elements of the initial graph, then hours of churn), and
// the versions written never go back.
func TestProgress(t *testing.T) {
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg := topogen.Config{Components: 300, RelationsPer: 3, Hours: 5, ChurnShare: 0.02, AddRemove: 3, BatchSize: 500, Seed: 1, End: end}
	st := memstore.New(memstore.Options{Now: func() time.Time { return end }})
	g := topogen.New(cfg)
	var got []topogen.Progress
	g.Progress = func(p topogen.Progress) { got = append(got, p) }
	stats, err := g.Load(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	// 1,200 elements in batches of 500: 3 batches; then 5 hours.
	want := []struct {
		phase       topogen.Phase
		done, total int
	}{
		{topogen.PhaseInitial, 500, 1200}, {topogen.PhaseInitial, 1000, 1200}, {topogen.PhaseInitial, 1200, 1200},
		{topogen.PhaseChurn, 1, 5}, {topogen.PhaseChurn, 2, 5}, {topogen.PhaseChurn, 3, 5}, {topogen.PhaseChurn, 4, 5}, {topogen.PhaseChurn, 5, 5},
	}
	if len(got) != len(want) {
		t.Fatalf("%d reports, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		p := got[i]
		if p.Phase != w.phase || p.Done != w.done || p.Total != w.total {
			t.Errorf("report %d: %s %d/%d, want %s %d/%d", i, p.Phase, p.Done, p.Total, w.phase, w.done, w.total)
		}
		if i > 0 && p.Versions < got[i-1].Versions {
			t.Errorf("report %d: versions went back from %d to %d", i, got[i-1].Versions, p.Versions)
		}
	}
	if last := got[len(got)-1]; last.Versions != stats.Versions {
		t.Errorf("last report says %d versions, the stats %d", last.Versions, stats.Versions)
	}
}

// TestIntakePayload compares the payload with the same document formatted
// by fmt, as it was written before it was appended by hand.
func TestIntakePayload(t *testing.T) {
	for _, c := range []struct{ agent, seq, n int }{{0, 0, 1}, {3, 17, 5}, {7, 123456, 100}} {
		var b strings.Builder
		fmt.Fprintf(&b, `{"internalHostname":"bench-%d","topologies":[{"instance":{"type":"agent","url":"bench-%d"},"components":[`, c.agent, c.agent)
		for i := range c.n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"externalId":"urn:bench:/%d/%d/%d","type":{"name":"service"},"data":{"name":"svc-%d-%d-%d","layer":"Services","labels":["agent:%d","batch:%d"],"identifiers":["urn:service:/svc-%d-%d-%d"]}}`,
				c.agent, c.seq, i, c.agent, c.seq, i, c.agent, c.seq, c.agent, c.seq, i)
		}
		b.WriteString(`],"relations":[`)
		for i := range c.n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"externalId":"r/%d/%d/%d","type":{"name":"calls"},"sourceId":"urn:bench:/%d/%d/%d","targetId":"urn:bench:/%d/%d/%d"}`,
				c.agent, c.seq, i, c.agent, c.seq, i, c.agent, c.seq, (i+1)%c.n)
		}
		b.WriteString(`]}]}`)
		if got := string(topogen.AppendIntakePayload([]byte("x"), c.agent, c.seq, c.n)); got != "x"+b.String() {
			t.Errorf("%+v:\n%s\nwant\n%s", c, got, b.String())
		}
	}
}
