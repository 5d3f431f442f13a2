package graphtest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
)

// RandomHistory generates random batches over a small universe of sources,
// external ids and identifiers, so that merges, re-resolution of relations,
// deletions and re-creations all happen often.
type RandomHistory struct {
	R       *rand.Rand
	Sources int // distinct sources
	Exts    int // external ids per source
	Idents  int // shared identifier pool
}

var (
	randTypes   = []string{"service", "Service", "pod", "host", "database", "otel service"}
	randLayers  = []string{"", "Applications", "Machines", "Containers"}
	randDomains = []string{"", "shop", "Shop", "infra"}
	randLabels  = []string{"tier:web", "tier:db", "Region:EU", "stackpack:kubernetes", "namespace:shop", "x"}
	randEnvs    = []string{"Production", "production", "Staging"}
	randHealth  = []graphstore.HealthState{graphstore.HealthUnknown, graphstore.HealthClear, graphstore.HealthDeviating, graphstore.HealthCritical}
)

func (g *RandomHistory) pick(l []string) string { return l[g.R.IntN(len(l))] }

func (g *RandomHistory) some(l []string, max int) []string {
	var out []string
	for range g.R.IntN(max + 1) {
		out = append(out, g.pick(l))
	}
	return out
}

func (g *RandomHistory) source() string { return fmt.Sprintf("src%d", g.R.IntN(g.Sources)) }
func (g *RandomHistory) ext() string    { return fmt.Sprintf("e%d", g.R.IntN(g.Exts)) }
func (g *RandomHistory) ident() string  { return fmt.Sprintf("urn:id:%d", g.R.IntN(g.Idents)) }

// ref is a relation endpoint: an identifier or an external id.
func (g *RandomHistory) ref() string {
	if g.R.IntN(2) == 0 {
		return g.ident()
	}
	return g.ext()
}

// Batch returns a batch of 1..maxOps random operations.
func (g *RandomHistory) Batch(maxOps int) *graphstore.Batch {
	b := &graphstore.Batch{}
	for range 1 + g.R.IntN(maxOps) {
		switch n := g.R.IntN(10); {
		case n < 5:
			idents := []string{}
			for range g.R.IntN(3) {
				idents = append(idents, g.ident())
			}
			b.PutComponent(g.source(), g.ext(), graphstore.ComponentData{
				Name:         fmt.Sprintf("comp-%d", g.R.IntN(g.Exts*2)),
				Type:         g.pick(randTypes),
				Layer:        g.pick(randLayers),
				Domain:       g.pick(randDomains),
				Identifiers:  idents,
				Labels:       g.some(randLabels, 3),
				Environments: g.some(randEnvs, 2),
				Health:       randHealth[g.R.IntN(len(randHealth))],
			})
		case n < 6:
			b.DeleteComponent(g.source(), g.ext())
		case n < 9:
			b.PutRelation(g.source(), "r-"+g.ext(), graphstore.RelationData{
				Type: strings.ToLower(g.pick(randTypes)), SourceRef: g.ref(), TargetRef: g.ref(),
			})
		default:
			b.DeleteRelation(g.source(), "r-"+g.ext())
		}
	}
	return b
}
