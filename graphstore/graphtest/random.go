package graphtest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
)

// RandomHistory generates random batches over a small universe of sources,
// external ids and identifiers, so that merges, re-resolution of relations
// and check states, deletions and re-creations all happen often. Health
// comes from sources and from the check states of two streams, and
// relations carry every dependency direction, so health propagation is
// exercised too.
type RandomHistory struct {
	R       *rand.Rand
	Sources int // distinct sources
	Exts    int // external ids per source
	Idents  int // shared identifier pool
	// Sparse makes merges rare: external ids differ between sources and a
	// component's identifiers are mostly its own, so a history keeps many
	// components with chains and cycles of dependencies between them (what
	// propagation needs) instead of collapsing into a few. Idents is then
	// unused: references name one of the Sources×Exts components.
	Sparse bool
}

var (
	randTypes   = []string{"service", "Service", "pod", "host", "database", "otel service"}
	randLayers  = []string{"", "Applications", "Machines", "Containers"}
	randDomains = []string{"", "shop", "Shop", "infra"}
	randLabels  = []string{"tier:web", "tier:db", "Region:EU", "stackpack:kubernetes", "namespace:shop", "x"}
	randEnvs    = []string{"Production", "production", "Staging"}
	randHealth  = []graphstore.HealthState{graphstore.HealthUnknown, graphstore.HealthClear, graphstore.HealthDeviating, graphstore.HealthCritical}
	randDeps    = []graphstore.DependencyDirection{graphstore.DependencyOneWay, graphstore.DependencyOneWay, graphstore.DependencyBoth, graphstore.DependencyNone}
	randStreams = []string{"urn:health:a:s", "urn:health:b:s"}
)

func (g *RandomHistory) pick(l []string) string { return l[g.R.IntN(len(l))] }

func (g *RandomHistory) some(l []string, max int) []string {
	var out []string
	for range g.R.IntN(max + 1) {
		out = append(out, g.pick(l))
	}
	return out
}

func (g *RandomHistory) health() graphstore.HealthState { return randHealth[g.R.IntN(len(randHealth))] }

// source picks a source and an external id of it.
func (g *RandomHistory) source() (src, ext string) {
	s, n := g.R.IntN(g.Sources), g.R.IntN(g.Exts)
	if g.Sparse {
		n += s * g.Exts
	}
	return fmt.Sprintf("src%d", s), fmt.Sprintf("e%d", n)
}

func (g *RandomHistory) ident() string {
	if g.Sparse {
		return fmt.Sprintf("urn:id:%d", g.R.IntN(g.Sources*g.Exts))
	}
	return fmt.Sprintf("urn:id:%d", g.R.IntN(g.Idents))
}

// ref is a relation endpoint or a check state's identifier: an identifier
// or an external id.
func (g *RandomHistory) ref() string {
	if g.R.IntN(2) == 0 {
		return g.ident()
	}
	if g.Sparse {
		return fmt.Sprintf("e%d", g.R.IntN(g.Sources*g.Exts))
	}
	return fmt.Sprintf("e%d", g.R.IntN(g.Exts))
}

// identifiers picks a component's identifiers: from the shared pool, or
// (sparse) mostly its own, the urn of its external id's number.
func (g *RandomHistory) identifiers(ext string) []string {
	idents := []string{}
	if g.Sparse {
		if g.R.IntN(4) > 0 {
			idents = append(idents, "urn:id:"+strings.TrimPrefix(ext, "e"))
		}
		if g.R.IntN(10) == 0 {
			idents = append(idents, g.ident())
		}
		return idents
	}
	for range g.R.IntN(3) {
		idents = append(idents, g.ident())
	}
	return idents
}

// Batch returns a batch of 1..maxOps random operations.
func (g *RandomHistory) Batch(maxOps int) *graphstore.Batch {
	b := &graphstore.Batch{}
	for range 1 + g.R.IntN(maxOps) {
		src, ext := g.source()
		switch n := g.R.IntN(14); {
		case n < 5:
			b.PutComponent(src, ext, graphstore.ComponentData{
				Name:         fmt.Sprintf("comp-%d", g.R.IntN(g.Exts*2)),
				Type:         g.pick(randTypes),
				Layer:        g.pick(randLayers),
				Domain:       g.pick(randDomains),
				Identifiers:  g.identifiers(ext),
				Labels:       g.some(randLabels, 3),
				Environments: g.some(randEnvs, 2),
				Health:       g.health(),
			})
		case n < 6:
			b.DeleteComponent(src, ext)
		case n < 9:
			b.PutRelation(src, "r-"+ext, graphstore.RelationData{
				Type: strings.ToLower(g.pick(randTypes)), SourceRef: g.ref(), TargetRef: g.ref(),
				Dependency: randDeps[g.R.IntN(len(randDeps))],
			})
		case n < 10:
			b.DeleteRelation(src, "r-"+ext)
		case n < 13:
			b.PutCheck(g.pick(randStreams), "c"+ext, graphstore.CheckData{
				Name: g.pick([]string{"cpu", "disk", "errors"}), State: g.health(), Identifier: g.ref(),
				Message: g.pick([]string{"", "all good", "**slow**"}),
			})
		case g.R.IntN(4) == 0:
			// A snapshot of a stream: the rest of the batch puts its states.
			b.ReplaceStream(g.pick(randStreams))
		default:
			b.DeleteCheck(g.pick(randStreams), "c"+ext)
		}
	}
	return b
}
