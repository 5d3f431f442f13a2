package demo

import (
	"fmt"
	"math"
	"slices"
)

// The scenario: one cycle of Cycle scenario seconds, repeated forever. A
// rolling deploy of checkout, the orders database degrading (its dependents
// turn DEVIATING through propagation) and recovering, the frontend scaled
// out and back, a rolling deploy of catalog. Each cycle rolls out new
// versions, so no two cycles are alike.
//
// The state at a scenario time is a pure function of the seed and that
// time (stateAt): what the simulator reports never depends on how often,
// or at which moments, it was asked before.

// Cycle is the length of the scenario's cycle, in scenario seconds.
const Cycle = 300.0

// rolloutStep is how long replacing one pod takes during a rolling deploy:
// the new pod starts, becomes ready half a step later, and only then is an
// old one stopped (maxSurge 1, maxUnavailable 0).
const rolloutStep = 8.0

// startDelay is how long a pod takes to become ready.
const startDelay = rolloutStep / 2

// Moments of the cycle, in scenario seconds from its start.
var (
	rollouts = map[string]float64{"checkout": 5, "catalog": 200}
	scaling  = struct {
		service   string
		out, back float64
		to        int
	}{"frontend", 160, 250, 6}
	degradeAt  = 50.0  // orders-db turns DEVIATING
	criticalAt = 70.0  // … CRITICAL
	recoverAt  = 130.0 // … CLEAR again
)

// Health states as the intake payloads spell them.
const (
	clear     = "CLEAR"
	deviating = "DEVIATING"
	critical  = "CRITICAL"
)

// pod is one pod at a moment of the scenario.
type pod struct {
	svc      *serviceSpec
	name     string
	rs       string // its replica set, "<deployment>-<hash>"
	revision int
	node     string
	ready    bool
}

func (p pod) version() string { return versionOf(p.revision) }

// deployment is a service's deployment at a moment.
type deployment struct {
	svc      *serviceSpec
	revision int   // the current revision, from 1
	replicas int   // desired replicas
	rsRevs   []int // the revisions whose replica sets exist, oldest first
	pods     []pod
}

// state is the environment at a moment.
type state struct {
	t       float64 // scenario seconds since the start
	deploys []deployment
	// level is how degraded the orders database is, 0 (healthy) to 1.
	level float64
	// dbHealth is the orders database's query latency check state.
	dbHealth string
}

func versionOf(revision int) string { return fmt.Sprintf("1.%d.0", 3+revision) }

// rsName is a replica set's name: the deployment and its pod template's
// hash, which changes with each revision.
func rsName(seed uint64, svc string, revision int) string {
	return svc + "-" + suffix(seed, 10, svc, "rs", revision)
}

// podName is a pod's name: its replica set and a random suffix drawn for
// its slot and the moment it was created.
func podName(seed uint64, svc string, revision, slot int, born float64) string {
	return rsName(seed, svc, revision) + "-" + suffix(seed, 5, svc, revision, slot, math.Round(born*1000))
}

// nodeOf places a pod on a node as a scheduler spreading a deployment's
// replicas would: its slots on consecutive nodes from one drawn for the
// service, each revision shifted, so that nodes carry about as many pods
// each and a rollout moves pods between nodes.
func nodeOf(seed uint64, svc string, revision, slot int) string {
	n := uint64(len(nodes))
	return nodes[(hash(seed, svc, "node")+uint64(slot)+3*uint64(revision))%n]
}

// stateAt computes the environment at scenario time t (≥ 0).
func stateAt(seed uint64, t float64) *state {
	s := &state{t: t}
	for i := range services {
		s.deploys = append(s.deploys, deploymentAt(seed, &services[i], t))
	}
	s.level, s.dbHealth = degradation(math.Mod(t, Cycle))
	return s
}

// deploymentAt computes a deployment's revision, replica sets and pods.
func deploymentAt(seed uint64, svc *serviceSpec, t float64) deployment {
	c := math.Floor(t / Cycle)
	u := t - c*Cycle
	if at, ok := rollouts[svc.name]; ok {
		return rollingAt(seed, svc, int(c), u, at)
	}
	d := deployment{svc: svc, revision: 1, replicas: svc.replicas, rsRevs: []int{1}}
	d.pods = stablePods(seed, svc, 1, svc.replicas, beforeStart)
	if svc.name == scaling.service && u >= scaling.out && u < scaling.back {
		d.replicas = scaling.to
		born := c*Cycle + scaling.out
		for slot := svc.replicas; slot < scaling.to; slot++ {
			name := podName(seed, svc.name, 1, slot, born)
			d.pods = append(d.pods, pod{svc: svc, name: name, rs: rsName(seed, svc.name, 1), revision: 1,
				node: nodeOf(seed, svc.name, 1, slot), ready: u >= scaling.out+startDelay})
		}
	}
	return d
}

// rollingAt computes a deployment that rolls out a new revision at offset
// at of every cycle: revision 1 before the first rollout, one more for
// each rollout begun.
func rollingAt(seed uint64, svc *serviceSpec, cycle int, u, at float64) deployment {
	begun := cycle
	if u >= at {
		begun++
	}
	rev := 1 + begun
	d := deployment{svc: svc, revision: rev, replicas: svc.replicas}
	if u < at || u >= at+float64(svc.replicas)*rolloutStep {
		// At rest; the previous revision's replica set is kept, scaled to
		// zero, as Kubernetes keeps its history.
		if rev > 1 {
			d.rsRevs = append(d.rsRevs, rev-1)
		}
		d.rsRevs = append(d.rsRevs, rev)
		d.pods = stablePods(seed, svc, rev, svc.replicas, rolloutBirth(rev, at))
		return d
	}
	start := float64(cycle)*Cycle + at
	d.rsRevs = []int{rev - 1, rev}
	old := stablePods(seed, svc, rev-1, svc.replicas, rolloutBirth(rev-1, at))
	for i := 0; i < svc.replicas; i++ {
		born := start + float64(i)*rolloutStep
		if u-at < float64(i)*rolloutStep+startDelay {
			d.pods = append(d.pods, old[i]) // not yet replaced
		}
		if u-at >= float64(i)*rolloutStep {
			name := podName(seed, svc.name, rev, i, born)
			d.pods = append(d.pods, pod{svc: svc, name: name, rs: rsName(seed, svc.name, rev), revision: rev,
				node: nodeOf(seed, svc.name, rev, i), ready: u-at >= float64(i)*rolloutStep+startDelay})
		}
	}
	return d
}

// stablePods are the ready pods of a revision at rest; birth gives the
// moment the pod in a slot was created (its name depends on it).
func stablePods(seed uint64, svc *serviceSpec, rev, n int, birth func(slot int) float64) []pod {
	pods := make([]pod, n)
	for i := range pods {
		name := podName(seed, svc.name, rev, i, birth(i))
		pods[i] = pod{svc: svc, name: name, rs: rsName(seed, svc.name, rev), revision: rev, node: nodeOf(seed, svc.name, rev, i), ready: true}
	}
	return pods
}

// beforeStart gives the pods that ran before the scenario began a birth
// before it.
func beforeStart(int) float64 { return -1 }

// rolloutBirth gives when the rollout that created revision rev, begun at
// offset at of its cycle, created each slot's pod. Revision 1 ran before
// the scenario; rollout k (creating revision k+1) ran in cycle k-1.
func rolloutBirth(rev int, at float64) func(int) float64 {
	if rev <= 1 {
		return beforeStart
	}
	return func(slot int) float64 { return float64(rev-2)*Cycle + at + float64(slot)*rolloutStep }
}

// degradation returns how degraded the orders database is at offset u of
// the cycle, and its latency check's state: it ramps up from degradeAt,
// is critical from criticalAt, and recovers at recoverAt.
func degradation(u float64) (float64, string) {
	switch {
	case u < degradeAt:
		return 0, clear
	case u < criticalAt:
		return 0.2 + 0.3*(u-degradeAt)/(criticalAt-degradeAt), deviating
	case u < recoverAt:
		return math.Min(1, 0.5+0.5*(u-criticalAt)/10), critical
	case u < recoverAt+10:
		return 0.15 * (1 - (u-recoverAt)/10), clear
	}
	return 0, clear
}

// allPods returns every pod of the state, sorted by name.
func (s *state) allPods() []pod {
	var out []pod
	for _, d := range s.deploys {
		out = append(out, d.pods...)
	}
	slices.SortFunc(out, func(a, b pod) int {
		if a.name < b.name {
			return -1
		} else if a.name > b.name {
			return 1
		}
		return 0
	})
	return out
}
