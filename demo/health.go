package demo

import "fmt"

// Health streams: the cluster agent checks pods' readiness and nodes, the
// host agents check their hosts, databases and queue, and the traces give
// each service an error-rate check. Every stream sends a whole snapshot of
// its check states each time (REPEAT_SNAPSHOTS).
//
// Only the orders database's own check ever turns bad (and starting pods,
// briefly): that its callers turn DEVIATING is propagation's doing, which
// is what the scenario shows.

// Health stream URNs.
var (
	k8sStream    = "urn:health:kubernetes:" + cluster
	agentStream  = "urn:health:agent:integrations"
	tracesStream = "urn:health:opentelemetry:" + cluster
)

// repeatInterval is how often, in seconds of wall time, the streams
// repeat their snapshots; a stream silent for expiryInterval is expired.
const (
	repeatInterval = 10
	expiryInterval = 60
)

func snapshot(urn string, states []CheckState) HealthStream {
	return HealthStream{ConsistencyModel: "REPEAT_SNAPSHOTS", Stream: streamID{URN: urn},
		StartSnapshot: &snapshotStart{RepeatIntervalS: repeatInterval, ExpiryIntervalS: expiryInterval},
		StopSnapshot:  &struct{}{}, CheckStates: states}
}

// kubernetesHealth is the cluster agent's check states at s.
func kubernetesHealth(s *state) HealthStream {
	var states []CheckState
	for _, n := range nodes {
		states = append(states, CheckState{CheckStateID: "node-ready:" + n, Name: "Node ready", Health: clear,
			TopologyElementIdentifier: nodeURN(n), Message: "kubelet is posting ready status"})
	}
	for _, p := range s.allPods() {
		st := CheckState{CheckStateID: "pod-ready:" + p.name, Name: "Pod ready", Health: clear,
			TopologyElementIdentifier: k8sURN(p.svc.namespace, "pod", p.name), Message: "all containers ready"}
		if !p.ready {
			st.Health = deviating
			st.Message = "Readiness probe failed: container " + p.svc.name + " is starting"
		}
		states = append(states, st)
	}
	return snapshot(k8sStream, states)
}

// agentHealth is the host agents' check states at s.
func agentHealth(s *state) HealthStream {
	var states []CheckState
	for _, h := range append(append([]string{}, nodes...), hosts...) {
		states = append(states, CheckState{CheckStateID: "cpu:" + h, Name: "CPU usage", Health: clear,
			TopologyElementIdentifier: hostURN(h), Message: "below 80%"})
	}
	for i := range backends {
		bk := &backends[i]
		st := CheckState{CheckStateID: "latency:" + bk.name, Name: "Query latency", Health: clear,
			TopologyElementIdentifier: backendURN(bk), Message: fmt.Sprintf("p99 %.0f ms, below 100 ms", backendLatency(bk, s.level)*3)}
		if bk.typ == "queue" {
			st.Name, st.Message = "Publish latency", fmt.Sprintf("p99 %.0f ms, below 100 ms", backendLatency(bk, 0)*3)
		}
		if bk.name == degraded && s.dbHealth != clear {
			st.Health = s.dbHealth
			st.Message = fmt.Sprintf("p99 %.0f ms, above %s: %d connections waiting on locks",
				backendLatency(bk, s.level)*3, map[string]string{deviating: "100 ms", critical: "500 ms"}[s.dbHealth], waiting(s.level))
		}
		states = append(states, st)
	}
	return snapshot(agentStream, states)
}

// tracesHealth is each service's error-rate check, from its spans. The
// services stay CLEAR: errors a slow database causes in its callers are
// what propagation shows, not a check of their own.
func tracesHealth() HealthStream {
	var states []CheckState
	for _, svc := range services {
		states = append(states, CheckState{CheckStateID: "error-rate:" + svc.name, Name: "Error rate", Health: clear,
			TopologyElementIdentifier: serviceURN(svc.name), Message: "below 1% of requests"})
	}
	return snapshot(tracesStream, states)
}

// backendLatency is a backend's mean latency in ms at degradation level.
func backendLatency(bk *backendSpec, level float64) float64 {
	if bk.name != degraded {
		return bk.latency
	}
	return bk.latency * (1 + 200*level*level)
}
