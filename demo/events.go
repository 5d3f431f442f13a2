package demo

import (
	"fmt"
	"time"
)

// Events are what changed between two moments of the scenario, told the
// way the cluster agent and the host agents tell it: rollouts and scaling
// (Changes), pods created and stopped (Activities), the database's latency
// alerts (Alerts). Each names the elements it is about, so it is bound to
// them.

// eventsBetween returns the events of what changed from prev to cur,
// stamped t. prev nil is the start: nothing has changed yet.
func eventsBetween(seed uint64, prev, cur *state, t time.Time) []Event {
	if prev == nil {
		return nil
	}
	var out []Event
	for i := range cur.deploys {
		out = append(out, deploymentEvents(seed, &prev.deploys[i], &cur.deploys[i], t)...)
	}
	if prev.dbHealth != cur.dbHealth {
		out = append(out, databaseEvent(seed, cur, t))
	}
	return out
}

// deploymentEvents: a rollout begun or finished, a scale, pods created
// and stopped.
func deploymentEvents(seed uint64, prev, cur *deployment, t time.Time) []Event {
	var out []Event
	svc := cur.svc
	dep := k8sURN(svc.namespace, "deployment", svc.name)
	ids := []string{dep, k8sURN(svc.namespace, "service", svc.name), serviceURN(svc.name)}
	if cur.revision != prev.revision {
		out = append(out, k8sEvent(seed, t, "Changes", "DeploymentRollout", ids,
			fmt.Sprintf("Deployment %s rolling out %s", svc.name, versionOf(cur.revision)),
			fmt.Sprintf("Rolling update of deployment %s/%s from %s to %s, one pod at a time.", svc.namespace, svc.name,
				versionOf(prev.revision), versionOf(cur.revision)),
			map[string]any{"from": versionOf(prev.revision), "to": versionOf(cur.revision)}))
	} else if rolling(prev) && !rolling(cur) {
		out = append(out, k8sEvent(seed, t, "Changes", "DeploymentRolledOut", ids,
			fmt.Sprintf("Deployment %s rolled out %s", svc.name, versionOf(cur.revision)),
			fmt.Sprintf("All %d replicas of %s/%s run %s.", cur.replicas, svc.namespace, svc.name, versionOf(cur.revision)),
			map[string]any{"version": versionOf(cur.revision)}))
	}
	if cur.replicas != prev.replicas {
		out = append(out, k8sEvent(seed, t, "Changes", "ScalingReplicaSet", ids,
			fmt.Sprintf("Scaled deployment %s from %d to %d replicas", svc.name, prev.replicas, cur.replicas),
			fmt.Sprintf("The horizontal pod autoscaler set %s/%s to %d replicas.", svc.namespace, svc.name, cur.replicas),
			map[string]any{"from": prev.replicas, "to": cur.replicas}))
	}
	was := map[string]bool{}
	for _, p := range prev.pods {
		was[p.name] = true
	}
	is := map[string]bool{}
	for _, p := range cur.pods {
		is[p.name] = true
		if !was[p.name] {
			out = append(out, podEvent(seed, t, p, "Created", fmt.Sprintf("Created pod %s on %s", p.name, p.node)))
		}
	}
	for _, p := range prev.pods {
		if !is[p.name] {
			out = append(out, podEvent(seed, t, p, "Killing", fmt.Sprintf("Stopped pod %s", p.name)))
		}
	}
	return out
}

// rolling reports whether a deployment runs pods of two revisions.
func rolling(d *deployment) bool {
	for _, p := range d.pods {
		if p.revision != d.revision {
			return true
		}
	}
	return false
}

func podEvent(seed uint64, t time.Time, p pod, typ, title string) Event {
	ns := p.svc.namespace
	return k8sEvent(seed, t, "Activities", typ, []string{k8sURN(ns, "pod", p.name)}, title,
		fmt.Sprintf("%s pod %s/%s of replica set %s (version %s).", typ, ns, p.name, p.rs, p.version()),
		map[string]any{"pod": p.name, "node": p.node, "version": p.version()})
}

func k8sEvent(seed uint64, t time.Time, category, typ string, ids []string, title, text string, data map[string]any) Event {
	return Event{Context: EventContext{Category: category, Data: data, ElementIdentifiers: ids, Source: "kubernetes",
		SourceIdentifier: eventID(seed, t, title), SourceLinks: []sourceLink{}},
		EventType: typ, MsgTitle: title, MsgText: text, SourceTypeName: "kubernetes",
		Tags: []string{"kube_cluster_name:" + cluster}, Timestamp: epoch(t)}
}

// databaseEvent is the alert raised (or cleared) when the orders
// database's latency check changes state.
func databaseEvent(seed uint64, s *state, t time.Time) Event {
	bk := findBackend(degraded)
	title := fmt.Sprintf("%s query latency %s", bk.name, s.dbHealth)
	text := fmt.Sprintf("p99 query latency is %.0f ms with %d connections waiting on locks.", backendLatency(bk, s.level)*3, waiting(s.level))
	if s.dbHealth == clear {
		text = fmt.Sprintf("p99 query latency is back to %.0f ms.", backendLatency(bk, s.level)*3)
	}
	return Event{Context: EventContext{Category: "Alerts", Data: map[string]any{"state": s.dbHealth},
		ElementIdentifiers: []string{backendURN(bk), serviceURN(bk.name)}, Source: bk.kind,
		SourceIdentifier: eventID(seed, t, title), SourceLinks: []sourceLink{}},
		EventType: "HealthStateChanged", MsgTitle: title, MsgText: text, SourceTypeName: bk.kind,
		Tags: []string{"db:" + bk.kind, "host:" + hostName(bk.host)}, Timestamp: epoch(t)}
}

func eventID(seed uint64, t time.Time, title string) string {
	return fmt.Sprintf("%016x", hash(seed, t.UnixMilli(), title))
}

// epoch is t in epoch seconds with milliseconds, so that events of a
// fast demo keep their order.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
