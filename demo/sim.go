package demo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Config says how the simulation runs.
type Config struct {
	// Seed makes the environment: names, placements, noise. The same seed
	// gives the same reports at the same moments.
	Seed uint64
	// Speed is how many scenario seconds pass per second of wall time: 1
	// plays the five-minute cycle in five minutes, 10 in thirty seconds.
	// Timestamps stay wall time either way (nothing is sent from the
	// future).
	Speed float64
	// Backfill is how much metric history the first report carries, so
	// that charts over the last minutes are full from the start.
	Backfill time.Duration
}

// DefaultConfig is what tetra serve --demo runs.
func DefaultConfig() Config { return Config{Seed: 1, Speed: 1, Backfill: 15 * time.Minute} }

// Report is one payload as one agent would POST it.
type Report struct {
	Agent  string // the agent's host name, as internalHostname says
	Intake *Intake
}

// Sim produces the environment's reports. It is not safe for concurrent
// use.
type Sim struct {
	cfg   Config
	start time.Time
	prev  *state
	// sent holds each topology instance's last snapshot, as JSON, so that
	// an unchanged topology is not sent again.
	sent map[instance][]byte
	// healthAt is when each health stream was last sent, healthSent what.
	healthAt   map[string]time.Time
	healthSent map[string][]byte
	// tracing, when set, records each Step's requests as spans; last is
	// the previous Step's time.
	tracing *Tracing
	last    time.Time
}

// Trace makes every Step record the requests served since the previous
// one as spans through tr.
func (s *Sim) Trace(tr *Tracing) { s.tracing = tr }

// New returns a simulation whose scenario starts at start (wall time).
func New(cfg Config, start time.Time) *Sim {
	if cfg.Speed <= 0 {
		cfg.Speed = 1
	}
	s := &Sim{cfg: cfg, start: start}
	s.Reset()
	return s
}

// Reset forgets what was sent, so that the next Step sends every
// topology and health stream whole: after a report failed, or the
// receiver restarted.
func (s *Sim) Reset() {
	s.sent = map[instance][]byte{}
	s.healthAt = map[string]time.Time{}
	s.healthSent = map[string][]byte{}
}

// ScenarioTime is the scenario's clock at wall time now, in seconds.
func (s *Sim) ScenarioTime(now time.Time) float64 {
	t := now.Sub(s.start).Seconds() * s.cfg.Speed
	if t < 0 {
		return 0
	}
	return t
}

// Step returns the reports for wall time now: topology that changed since
// it was last sent, health streams that changed or are due for repeating,
// a sample of every metric, and the events of what happened since the
// previous Step.
func (s *Sim) Step(now time.Time) []Report {
	seed := s.cfg.Seed
	cur := stateAt(seed, s.ScenarioTime(now))
	cluster := Report{Agent: "cluster-agent-" + suffix(seed, 5, "cluster-agent"), Intake: newIntake("")}
	host := Report{Agent: hostName("db-1"), Intake: newIntake("")}
	otel := Report{Agent: "otel-collector-0", Intake: newIntake("")}

	// The host agents and traces report before the cluster agent, so
	// that where a node merges with its host (and a Kubernetes service with
	// the traced one) the cluster agent's contribution is the most recent:
	// the merged component keeps the Kubernetes type and name.
	s.topology(host.Intake, agentTopology(seed))
	s.topology(otel.Intake, tracesTopology())
	s.topology(cluster.Intake, kubernetesTopology(seed, cur))
	s.health(cluster.Intake, kubernetesHealth(cur), now)
	s.health(host.Intake, agentHealth(cur), now)
	s.health(otel.Intake, tracesHealth(), now)

	times := []time.Time{now}
	if s.prev == nil && s.cfg.Backfill > 0 {
		times = backfillTimes(now, s.cfg.Backfill)
	}
	for _, t := range times {
		cluster.Intake.Metrics = append(cluster.Intake.Metrics, podMetrics(seed, cur, t)...)
		host.Intake.Metrics = append(host.Intake.Metrics, hostMetrics(seed, cur, t)...)
		otel.Intake.Metrics = append(otel.Intake.Metrics, serviceMetrics(seed, cur, t)...)
	}
	for _, e := range eventsBetween(seed, s.prev, cur, now) {
		if e.SourceTypeName == "kubernetes" {
			cluster.Intake.addEvent(e)
		} else {
			host.Intake.addEvent(e)
		}
	}
	if s.tracing != nil {
		tick := 2 * time.Second
		if !s.last.IsZero() && now.After(s.last) {
			tick = now.Sub(s.last)
		}
		s.tracing.Record(cur, now, tick)
	}
	s.prev, s.last = cur, now
	var out []Report
	for _, r := range []Report{host, otel, cluster} {
		r.Intake.InternalHostname = r.Agent
		if !r.Intake.Empty() {
			out = append(out, r)
		}
	}
	return out
}

// backfillTimes are the sample times of the history sent first: every 30
// seconds over d, up to now.
func backfillTimes(now time.Time, d time.Duration) []time.Time {
	const every = 30 * time.Second
	var out []time.Time
	for t := now.Add(-d).Truncate(every); t.Before(now); t = t.Add(every) {
		out = append(out, t)
	}
	return append(out, now)
}

// topology adds a snapshot to in unless it is the one last sent.
func (s *Sim) topology(in *Intake, t Topology) {
	b := mustJSON(t)
	if bytes.Equal(s.sent[t.Instance], b) {
		return
	}
	s.sent[t.Instance] = b
	in.Topologies = append(in.Topologies, t)
}

// health adds a stream's snapshot to in when it changed or is due.
func (s *Sim) health(in *Intake, h HealthStream, now time.Time) {
	b := mustJSON(h)
	urn := h.Stream.URN
	last, ok := s.healthAt[urn]
	if ok && bytes.Equal(s.healthSent[urn], b) && now.Sub(last) < repeatInterval*time.Second {
		return
	}
	s.healthAt[urn], s.healthSent[urn] = now, b
	in.Health = append(in.Health, h)
}

// mustJSON encodes what this package builds, which always encodes.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("demo: encoding %T: %v", v, err))
	}
	return b
}
