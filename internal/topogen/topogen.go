// Package topogen generates large synthetic topologies with history, for
// benchmarks: a graph of N components and about 3N relations, then hours of
// churn in which a share of components get new versions, a share of
// relations are replaced, and some components come and go.
//
// Everything is deterministic for a seed. Component i is named "c-<i>", has
// identifier "urn:c:<i>", the label "app:<i/100>" (so every app label
// selects about 100 components), and every tenth component carries the label
// "x" (10% of the graph).
package topogen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// Config shapes a generated topology.
type Config struct {
	Components   int     // initial components (100,000 in the benchmark)
	RelationsPer int     // outgoing relations per component (3: 300,000 relations)
	Hours        int     // hours of churn (720: 30 days)
	ChurnShare   float64 // share of components re-versioned and of relations replaced each hour (0.01)
	AddRemove    int     // components added and as many removed each hour
	BatchSize    int     // operations per batch of the initial load
	Seed         uint64
	End          time.Time // time of the last churn batch; the initial load is Hours+1 hours before
}

// Default is the benchmark of the graph-store issue.
func Default(end time.Time) Config {
	return Config{Components: 100_000, RelationsPer: 3, Hours: 720, ChurnShare: 0.01, AddRemove: 20,
		BatchSize: 10_000, Seed: 1, End: end}
}

// Stats describes what a generation wrote.
type Stats struct {
	InitialElements int           // components and relations of the initial load
	LoadTime        time.Duration // wall time of the initial load
	Batches         int
	Versions        int // element versions written in all
}

var (
	types   = []string{"service", "pod", "container", "host", "database", "queue", "deployment", "replicaset", "node", "namespace", "configmap", "secret", "ingress", "endpoint", "volume", "job", "cronjob", "statefulset", "daemonset", "process"}
	layers  = []string{"Applications", "Containers", "Machines", "Databases", "Networking"}
	envs    = []string{"Production", "Staging", "Development"}
	healths = []graphstore.HealthState{graphstore.HealthClear, graphstore.HealthClear, graphstore.HealthClear, graphstore.HealthDeviating, graphstore.HealthCritical, graphstore.HealthUnknown}
)

// Source is the source every generated element comes from.
const Source = "topogen"

// Component returns the data of component i at a version.
func Component(i, version int, r *rand.Rand) graphstore.ComponentData {
	labels := []string{fmt.Sprintf("app:%d", i/100), fmt.Sprintf("team:%d", i%50)}
	if i%10 == 0 {
		labels = append(labels, "x")
	}
	return graphstore.ComponentData{
		Name:         fmt.Sprintf("c-%d", i),
		Type:         types[i%len(types)],
		Layer:        layers[i%len(layers)],
		Domain:       fmt.Sprintf("domain-%d", i%10),
		Environments: []string{envs[i%len(envs)]},
		Labels:       labels,
		Identifiers:  []string{fmt.Sprintf("urn:c:%d", i)},
		Health:       healths[r.IntN(len(healths))],
		Properties:   []byte(fmt.Sprintf(`{"version":%d,"replicas":%d}`, version, r.IntN(8))),
	}
}

// ext is the external id of component i.
func ext(i int) string { return fmt.Sprintf("c-%d", i) }

// relation is one generated relation: its serial and endpoints.
type relation struct {
	serial, from, to int
}

func (r relation) ext() string { return fmt.Sprintf("r-%d", r.serial) }

func (r relation) data() graphstore.RelationData {
	return graphstore.RelationData{Type: "depends_on", SourceRef: ext(r.from), TargetRef: ext(r.to)}
}

// Generator writes a topology and its history into a store.
type Generator struct {
	cfg     Config
	r       *rand.Rand
	next    int        // next component index
	alive   []int      // live component indexes
	rels    []relation // live relations
	serial  int
	version map[int]int
	Stats   Stats
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	return &Generator{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 99)), version: map[int]int{}}
}

// target picks a relation target for component i: usually near it (so
// neighbourhoods overlap as in real systems), sometimes anywhere.
func (g *Generator) target(i int) int {
	if g.r.IntN(4) == 0 {
		return g.alive[g.r.IntN(len(g.alive))]
	}
	j := i + g.r.IntN(2001) - 1000
	if j < 0 || j >= g.next {
		j = g.alive[g.r.IntN(len(g.alive))]
	}
	return j
}

// Load writes the initial graph in batches and the churn, one batch per
// hour, then returns the stats.
func (g *Generator) Load(ctx context.Context, st graphstore.Store) (Stats, error) {
	start := g.cfg.End.Add(-time.Duration(g.cfg.Hours+1) * time.Hour)
	t0 := time.Now()
	if err := g.initial(ctx, st, start); err != nil {
		return g.Stats, err
	}
	g.Stats.LoadTime = time.Since(t0)
	for h := 1; h <= g.cfg.Hours; h++ {
		if err := g.hour(ctx, st, start.Add(time.Duration(h)*time.Hour)); err != nil {
			return g.Stats, err
		}
	}
	return g.Stats, nil
}

func (g *Generator) initial(ctx context.Context, st graphstore.Store, at time.Time) error {
	n := g.cfg.Components
	g.next = n
	g.alive = make([]int, n)
	b := &graphstore.Batch{Time: at}
	flush := func() error {
		if len(b.Ops) == 0 {
			return nil
		}
		g.Stats.InitialElements += len(b.Ops)
		err := g.apply(ctx, st, b)
		b = &graphstore.Batch{Time: at}
		return err
	}
	for i := range n {
		g.alive[i] = i
		b.PutComponent(Source, ext(i), Component(i, 0, g.r))
		if len(b.Ops) >= g.cfg.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	for i := range n {
		for range g.cfg.RelationsPer {
			rel := relation{serial: g.serial, from: i, to: g.target(i)}
			g.serial++
			g.rels = append(g.rels, rel)
			b.PutRelation(Source, rel.ext(), rel.data())
			if len(b.Ops) >= g.cfg.BatchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// hour is one hour of churn: re-versioned components, replaced relations,
// components added (with relations) and removed.
func (g *Generator) hour(ctx context.Context, st graphstore.Store, at time.Time) error {
	b := &graphstore.Batch{Time: at}
	for range int(float64(len(g.alive)) * g.cfg.ChurnShare) {
		i := g.alive[g.r.IntN(len(g.alive))]
		g.version[i]++
		b.PutComponent(Source, ext(i), Component(i, g.version[i], g.r))
	}
	for range int(float64(len(g.rels)) * g.cfg.ChurnShare) {
		k := g.r.IntN(len(g.rels))
		old := g.rels[k]
		b.DeleteRelation(Source, old.ext())
		rel := relation{serial: g.serial, from: old.from, to: g.target(old.from)}
		g.serial++
		g.rels[k] = rel
		b.PutRelation(Source, rel.ext(), rel.data())
	}
	for range g.cfg.AddRemove {
		g.removeOne(b)
		g.addOne(b)
	}
	return g.apply(ctx, st, b)
}

func (g *Generator) addOne(b *graphstore.Batch) {
	i := g.next
	g.next++
	g.alive = append(g.alive, i)
	b.PutComponent(Source, ext(i), Component(i, 0, g.r))
	for range g.cfg.RelationsPer {
		rel := relation{serial: g.serial, from: i, to: g.target(i)}
		g.serial++
		g.rels = append(g.rels, rel)
		b.PutRelation(Source, rel.ext(), rel.data())
	}
}

// removeOne deletes a random component; its relations stay, dangling, as
// they would when an agent stops reporting one end.
func (g *Generator) removeOne(b *graphstore.Batch) {
	k := g.r.IntN(len(g.alive))
	i := g.alive[k]
	g.alive[k] = g.alive[len(g.alive)-1]
	g.alive = g.alive[:len(g.alive)-1]
	b.DeleteComponent(Source, ext(i))
}

func (g *Generator) apply(ctx context.Context, st graphstore.Store, b *graphstore.Batch) error {
	c, err := st.Apply(ctx, b)
	if err != nil {
		return err
	}
	g.Stats.Batches++
	g.Stats.Versions += c.Added + c.Changed + c.Removed
	return nil
}

// Alive returns the indexes of the components live at the end.
func (g *Generator) Alive() []int { return g.alive }
