// Package topogen generates large synthetic topologies with history, for
// benchmarks: a graph of N components and about 3N relations, then hours of
// churn in which a share of components get new versions, a share of
// relations are replaced, and some components come and go.
//
// Everything is deterministic for a seed. Two shapes:
//
//   - Local (the default): component i is named "c-<i>", 75% of relations
//     join components whose ids lie within ±1000 of each other (so
//     neighbourhoods overlap as in real systems, and their keys lie close
//     together);
//   - Uniform: component i is named "c<i>" and every relation goes to a
//     uniformly random component: no locality for storage to profit from.
//
// In both, component i has identifier "urn:c:<i>", the labels
// "app:<k/100>" (so every app label selects about 100 components) and
// "team:t<i%50>", and every tenth k carries the label "x" (10% of the
// graph), where k is i in the local shape and a pseudo-random permutation of
// i in the uniform one (so that a label's components are scattered over the
// id space); the domain is "domain-<i%20>".
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
	Shape        Shape
	// Healthy makes every component CLEAR instead of a random state (a
	// sixth of them CRITICAL): a graph where a change of health spreads.
	Healthy bool
}

// Shape says how relations and labels are laid over the id space.
type Shape string

const (
	Local   Shape = ""        // relations mostly between nearby ids; labels by id ranges
	Uniform Shape = "uniform" // relations to uniformly random components; labels scattered
)

// Default is the benchmark of the graph-store issue.
func Default(end time.Time) Config {
	return Config{Components: 100_000, RelationsPer: 3, Hours: 720, ChurnShare: 0.01, AddRemove: 20,
		BatchSize: 10_000, Seed: 1, End: end}
}

// Sized is the benchmark graph with n components in a shape, with the
// hourly churn of the 100,000-component one (1,000 new component versions,
// 3,000 replaced relations and 20 components added and removed every hour):
// a larger system does not change faster per component, and 1% an hour of a
// million components would be 50 million operations to generate.
func Sized(end time.Time, n int, shape Shape) Config {
	c := Default(end)
	c.Components, c.Shape = n, shape
	c.ChurnShare = min(0.01, 0.01*100_000/float64(n))
	return c
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

// Component returns the data of component i of the local shape at a
// version, drawing its random fields from r.
func Component(i, version int, r *rand.Rand) graphstore.ComponentData {
	return (&Generator{r: r}).Component(i, version)
}

// Component returns the data of component i at a version.
func (g *Generator) Component(i, version int) graphstore.ComponentData {
	k := g.scatter(i)
	labels := []string{fmt.Sprintf("app:%d", k/100), fmt.Sprintf("team:t%d", i%50)}
	if k%10 == 0 {
		labels = append(labels, "x")
	}
	r := g.r
	health := healths[r.IntN(len(healths))]
	if g.cfg.Healthy {
		health = graphstore.HealthClear // drawn all the same, so the rest of the graph is as without
	}
	return graphstore.ComponentData{
		Name:         g.Name(i),
		Type:         types[g.scatter(i)%len(types)],
		Layer:        layers[i%len(layers)],
		Domain:       fmt.Sprintf("domain-%d", i%20),
		Environments: []string{envs[i%len(envs)]},
		Labels:       labels,
		Identifiers:  []string{fmt.Sprintf("urn:c:%d", i)},
		Health:       health,
		Properties:   []byte(fmt.Sprintf(`{"version":%d,"replicas":%d}`, version, r.IntN(8))),
	}
}

// Name is the name of component i, which is also its external id.
func (g *Generator) Name(i int) string {
	if g.cfg.Shape == Uniform {
		return fmt.Sprintf("c%d", i)
	}
	return fmt.Sprintf("c-%d", i)
}

// scatter is the label index of component i: i itself in the local shape,
// a permutation of i within the initial components in the uniform one
// (multiplying by a prime that does not divide their number).
func (g *Generator) scatter(i int) int {
	n := g.cfg.Components
	if g.cfg.Shape != Uniform || i >= n || n < 2 {
		return i
	}
	const p = 1_000_003
	if n%p == 0 {
		return i
	}
	return int(uint64(i) * p % uint64(n))
}

// relation is one generated relation: its serial and endpoints.
type relation struct {
	serial, from, to int
}

func (r relation) ext() string { return fmt.Sprintf("r-%d", r.serial) }

// relationTypes are the relation types, by serial: most relations are
// dependencies, some are calls and some enclose.
var relationTypes = []string{"depends_on", "depends_on", "calls", "depends_on", "encloses"}

func (g *Generator) relationData(r relation) graphstore.RelationData {
	return graphstore.RelationData{Type: relationTypes[r.serial%len(relationTypes)], SourceRef: g.Name(r.from), TargetRef: g.Name(r.to)}
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
	// Progress, when set, is called after every batch the generator
	// applies, on the goroutine that applies it (a long generation is
	// otherwise silent for many minutes).
	Progress func(Progress)
	phase    Phase
	done     int // of the phase: elements of the initial load, hours of churn
}

// Phase is the part of a generation under way.
type Phase string

const (
	PhaseInitial Phase = "initial" // the initial graph, in batches of BatchSize
	PhaseChurn   Phase = "churn"   // the hourly churn, one batch per hour
)

// Progress is where a generation stands after a batch.
type Progress struct {
	Phase       Phase
	Done, Total int // elements of the initial graph, or hours of churn
	Versions    int // element versions written so far, both phases
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	return &Generator{cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 99)), version: map[int]int{}}
}

// target picks a relation target for component i: in the local shape
// usually near it (so neighbourhoods overlap as in real systems), sometimes
// anywhere; in the uniform shape anywhere.
func (g *Generator) target(i int) int {
	if g.cfg.Shape == Uniform || g.r.IntN(4) == 0 {
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
	if err := g.LoadInitial(ctx, st); err != nil {
		return g.Stats, err
	}
	return g.Stats, g.LoadChurn(ctx, st)
}

func (g *Generator) start() time.Time {
	return g.cfg.End.Add(-time.Duration(g.cfg.Hours+1) * time.Hour)
}

// LoadInitial writes the initial graph in batches (timing it in
// Stats.LoadTime).
func (g *Generator) LoadInitial(ctx context.Context, st graphstore.Store) error {
	t0 := time.Now()
	g.phase, g.done = PhaseInitial, 0
	err := g.initial(ctx, st, g.start())
	g.Stats.LoadTime = time.Since(t0)
	return err
}

// LoadChurn writes the hours of churn after the initial graph, one batch
// per hour.
func (g *Generator) LoadChurn(ctx context.Context, st graphstore.Store) error {
	g.phase, g.done = PhaseChurn, 0
	for h := 1; h <= g.cfg.Hours; h++ {
		if err := g.hour(ctx, st, g.start().Add(time.Duration(h)*time.Hour)); err != nil {
			return err
		}
	}
	return nil
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
		g.done += len(b.Ops)
		err := g.apply(ctx, st, b)
		b = &graphstore.Batch{Time: at}
		return err
	}
	for i := range n {
		g.alive[i] = i
		b.PutComponent(Source, g.Name(i), g.Component(i, 0))
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
			b.PutRelation(Source, rel.ext(), g.relationData(rel))
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
		b.PutComponent(Source, g.Name(i), g.Component(i, g.version[i]))
	}
	for range int(float64(len(g.rels)) * g.cfg.ChurnShare) {
		k := g.r.IntN(len(g.rels))
		old := g.rels[k]
		b.DeleteRelation(Source, old.ext())
		rel := relation{serial: g.serial, from: old.from, to: g.target(old.from)}
		g.serial++
		g.rels[k] = rel
		b.PutRelation(Source, rel.ext(), g.relationData(rel))
	}
	for range g.cfg.AddRemove {
		g.removeOne(b)
		g.addOne(b)
	}
	g.done++
	return g.apply(ctx, st, b)
}

func (g *Generator) addOne(b *graphstore.Batch) {
	i := g.next
	g.next++
	g.alive = append(g.alive, i)
	b.PutComponent(Source, g.Name(i), g.Component(i, 0))
	for range g.cfg.RelationsPer {
		rel := relation{serial: g.serial, from: i, to: g.target(i)}
		g.serial++
		g.rels = append(g.rels, rel)
		b.PutRelation(Source, rel.ext(), g.relationData(rel))
	}
}

// removeOne deletes a random component; its relations stay, dangling, as
// they would when an agent stops reporting one end.
func (g *Generator) removeOne(b *graphstore.Batch) {
	k := g.r.IntN(len(g.alive))
	i := g.alive[k]
	g.alive[k] = g.alive[len(g.alive)-1]
	g.alive = g.alive[:len(g.alive)-1]
	b.DeleteComponent(Source, g.Name(i))
}

func (g *Generator) apply(ctx context.Context, st graphstore.Store, b *graphstore.Batch) error {
	c, err := st.Apply(ctx, b)
	if err != nil {
		return err
	}
	g.Stats.Batches++
	g.Stats.Versions += c.Added + c.Changed + c.Removed
	if g.Progress != nil {
		g.Progress(Progress{Phase: g.phase, Done: g.done, Total: g.total(), Versions: g.Stats.Versions})
	}
	return nil
}

// total is the size of the phase under way, in the unit of Progress.Done.
func (g *Generator) total() int {
	if g.phase == PhaseChurn {
		return g.cfg.Hours
	}
	return g.cfg.Components * (1 + g.cfg.RelationsPer)
}

// Alive returns the indexes of the components live at the end.
func (g *Generator) Alive() []int { return g.alive }
