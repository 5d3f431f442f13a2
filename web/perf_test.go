package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tetrahq/tetra/graphstore"
)

// perfTopology commits a generated topology of n components (domain
// "perf") in six layers with about 1.6 relations per component: business
// services, services, pods, databases, hosts and clusters, each attached
// to one of the layer above (spread evenly, so lanes do not line up), with
// calls between services and a mix of health states.
func perfTopology(t *testing.T, st graphstore.Store, at time.Time, n int) {
	t.Helper()
	layers := []struct {
		layer, typ string
		share      int // per mille
	}{{"Business Services", "business-service", 20}, {"Services", "service", 180}, {"Containers", "pod", 400},
		{"Databases", "database", 100}, {"Machines", "host", 280}, {"Clusters", "cluster", 20}}
	states := []graphstore.HealthState{graphstore.HealthClear, graphstore.HealthClear, graphstore.HealthClear, graphstore.HealthDeviating, graphstore.HealthCritical, graphstore.HealthUnknown}
	b := &graphstore.Batch{Time: at}
	byLayer := make([][]string, len(layers))
	k := 0
	for i, l := range layers {
		count := n * l.share / 1000
		if i == len(layers)-1 {
			count = n - k
		}
		for j := 0; j < count; j++ {
			ext := fmt.Sprintf("urn:perf:%s:%d", l.typ, j)
			b.PutComponent("perf", ext, graphstore.ComponentData{Name: fmt.Sprintf("%s-%04d", l.typ, j), Type: l.typ, Layer: l.layer,
				Domain: "perf", Labels: []string{"perf"}, Health: states[(k*7)%len(states)]})
			byLayer[i] = append(byLayer[i], ext)
			k++
		}
	}
	rel := 0
	link := func(typ, from, to string) {
		b.PutRelation("perf", fmt.Sprintf("urn:perf:rel:%d", rel), graphstore.RelationData{Type: typ, SourceRef: from, TargetRef: to})
		rel++
	}
	parent := func(l, j int, of int) string { return byLayer[of][(j*7919)%len(byLayer[of])] }
	for j, s := range byLayer[1] {
		link("serves", parent(1, j, 0), s)
		link("calls", s, byLayer[1][(j*31+1)%len(byLayer[1])])
	}
	for j, p := range byLayer[2] {
		link("exposes", parent(2, j, 1), p)
		link("scheduled_on", p, parent(2, j, 4))
	}
	for j, d := range byLayer[3] {
		link("uses", parent(3, j, 1), d)
	}
	for j, h := range byLayer[4] {
		link("member_of", h, parent(4, j, 5))
	}
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

// TestWebViewLarge measures the first render of a 1,000-component answer
// (Performance API marks in the page: the answer parsed → drawn, and the
// query run → drawn) and checks that a larger answer falls back to groups
// and the table. The figures are reported, not asserted: they depend on the
// machine (run with -v, or read perf.txt beside the screenshots).
func TestWebViewLarge(t *testing.T) {
	b := newBrowser(t)
	now := time.Now()
	srv := newServer(t, func(st graphstore.Store) { perfTopology(t, st, now.Add(-10*time.Minute), 1000) })
	b.allow = append(b.allow, "/api/query")
	q := `domain = "perf"`
	b.run(chromedp.Navigate(srv.url + "/#" + url.Values{"q": {q}}.Encode()))
	b.wait("1,000 components drawn", `window.tetra && window.tetra.drawn().nodes.length === 1000`)
	var first, total []float64
	for i := 0; i < 5; i++ {
		if i > 0 {
			b.typeQuery(q)
			b.wait("the answer drawn again", `window.tetra.measures().some((m) => m.name === "tetra:first-render")`)
		}
		ms := b.measures()
		t.Logf("%v", ms)
		first, total = append(first, ms["tetra:first-render"]), append(total, ms["tetra:query-to-drawn"])
	}
	d := b.drawn()
	if d.Mode != "full" || len(d.Nodes) != 1000 {
		t.Errorf("drawn: mode %s, %d nodes", d.Mode, len(d.Nodes))
	}
	b.shot("09-thousand")
	report := fmt.Sprintf("first render of 1,000 components (answer parsed → drawn), 5 runs, ms: %s (median %.0f)\n"+
		"query run → drawn (REST round trip + parse + draw), ms: %s (median %.0f)\n", fms(first), median(first), fms(total), median(total))

	// A component changes while the page is live.
	b.wait("the subscription", `window.tetra.state().liveState === "live"`)
	var apply []float64
	for i, h := range []graphstore.HealthState{graphstore.HealthCritical, graphstore.HealthClear, graphstore.HealthDeviating} {
		setHealthOf(t, srv.st, "urn:perf:service:0", h)
		b.wait("the change applied", fmt.Sprintf(`window.tetra.measures().filter((m) => m.name === "tetra:live-apply").length >= %d`, i+1))
		ms := eval[[]float64](b, `window.tetra.measures().filter((m) => m.name === "tetra:live-apply").map((m) => m.duration)`)
		apply = append(apply, ms[len(ms)-1])
	}
	report += fmt.Sprintf("live update applied and drawn after its message arrived, 1,000 drawn, ms: %s (median %.0f)\n", fms(apply), median(apply))
	t.Log("\n" + report)
	if err := os.WriteFile(filepath.Join(b.shots, "perf.txt"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}

	// Past the graph limit: groups by layer and type, and the table has them all.
	b.run(chromedp.Navigate(srv.url + "/?graphLimit=500#" + url.Values{"q": {q}}.Encode()))
	b.wait("the grouped graph", `window.tetra && window.tetra.drawn().mode === "grouped"`)
	d = b.drawn()
	var labels []string
	for _, n := range d.Nodes {
		labels = append(labels, strings.ReplaceAll(n.Label, "\n", " "))
	}
	slices.Sort(labels)
	if want := []string{"business-service ×20", "cluster ×20", "database ×100", "host ×280", "pod ×400", "service ×180"}; !slices.Equal(labels, want) {
		t.Errorf("groups %q, want %q", labels, want)
	}
	b.shot("10-grouped")
	d = b.still()
	i := slices.IndexFunc(d.Nodes, func(n drawnNode) bool {
		return strings.HasPrefix(n.Label, "database")
	})
	b.run(chromedp.MouseClickXY(d.Nodes[i].PageX, d.Nodes[i].PageY))
	b.wait("the table of the group", `!document.getElementById("table-view").hidden && document.querySelector("#table-view .table-tools span").textContent.startsWith("100 components")`)
	b.shot("11-group-table")
	b.checkProblems()
}

func setHealthOf(t *testing.T, st graphstore.Store, ext string, h graphstore.HealthState) {
	t.Helper()
	b := &graphstore.Batch{}
	b.PutComponent("health:checks", ext, graphstore.ComponentData{Identifiers: []string{ext}, Health: h})
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func fms(v []float64) string {
	var s []string
	for _, x := range v {
		s = append(s, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(s, ", ")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
