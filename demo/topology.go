package demo

import (
	"fmt"
	"strconv"
)

// The three topologies, each a whole snapshot of its instance: the
// cluster agent's Kubernetes objects, the host agents' hosts, processes,
// databases and queue, and the services and calls seen in traces. They
// merge in the store through shared identifiers: a Kubernetes node is the
// agent's host (urn:host:/…), a Kubernetes service is the traced service
// (urn:service:/…).

// builder collects one snapshot.
type builder struct {
	t Topology
}

func newSnapshot(in instance) *builder {
	return &builder{t: Topology{StartSnapshot: true, StopSnapshot: true, Instance: in,
		Components: []Component{}, Relations: []Relation{}, DeleteIDs: []string{}}}
}

func (b *builder) component(id, typ string, data map[string]any) {
	if _, ok := data["domain"]; !ok {
		data["domain"] = domain
	}
	if _, ok := data["environment"]; !ok {
		data["environment"] = environment
	}
	b.t.Components = append(b.t.Components, Component{ExternalID: id, Type: typeName{typ}, Data: data})
}

// relate adds a relation; its external id is the agent's
// "<source>-<type>-<target>". A relation that only groups (a namespace
// enclosing what is in it) carries no health: dependency direction NONE.
func (b *builder) relate(src, typ, dst string, grouping bool) {
	data := map[string]any{}
	if grouping {
		data["dependencyDirection"] = "NONE"
	}
	b.t.Relations = append(b.t.Relations, Relation{ExternalID: src + "-" + typ + "-" + dst,
		Type: typeName{typ}, SourceID: src, TargetID: dst, Data: data})
}

// kubernetesTopology is the cluster agent's snapshot at state s.
func kubernetesTopology(seed uint64, s *state) Topology {
	b := newSnapshot(k8sInstance)
	b.component(clusterURN(), "cluster", map[string]any{"name": cluster, "layer": "Clusters",
		"tags": map[string]string{"cluster-name": cluster}})
	for _, ns := range namespaces {
		b.component(namespaceURN(ns), "namespace", map[string]any{"name": ns, "layer": "Namespaces",
			"tags": map[string]string{"cluster-name": cluster, "namespace": ns}})
		b.relate(clusterURN(), "encloses", namespaceURN(ns), true)
	}
	for i, n := range nodes {
		b.component(nodeURN(n), "node", map[string]any{"name": n, "layer": "Machines", "kind": "Node",
			"identifiers": []string{hostURN(n)},
			"tags":        map[string]string{"cluster-name": cluster, "topology.kubernetes.io/zone": zone(i)}})
		b.relate(clusterURN(), "encloses", nodeURN(n), true)
	}
	for _, d := range s.deploys {
		deploymentTopology(b, seed, d)
	}
	nodeAgents(b, seed)
	return b.t
}

func zone(i int) string { return "eu-west-1" + string(rune('a'+i%3)) }

// deploymentTopology adds a service's Kubernetes objects: service,
// deployment, replica sets, config map, pods and their containers.
func deploymentTopology(b *builder, seed uint64, d deployment) {
	svc := d.svc
	ns := svc.namespace
	tags := map[string]string{"cluster-name": cluster, "namespace": ns, "app": svc.name}
	svcID, depID, cmID := k8sURN(ns, "service", svc.name), k8sURN(ns, "deployment", svc.name), k8sURN(ns, "configmap", svc.name+"-config")
	b.component(svcID, "service", map[string]any{"name": svc.name, "layer": "Services", "kind": "Service",
		"identifiers": []string{serviceURN(svc.name)}, "tags": tags})
	b.component(depID, "deployment", map[string]any{"name": svc.name, "layer": "Controllers", "kind": "Deployment",
		"tags": tags, "version": versionOf(d.revision),
		"spec": map[string]any{"replicas": d.replicas, "strategy": "RollingUpdate"}})
	b.component(cmID, "configmap", map[string]any{"name": svc.name + "-config", "layer": "Configuration", "kind": "ConfigMap", "tags": tags})
	b.relate(namespaceURN(ns), "encloses", svcID, true)
	b.relate(namespaceURN(ns), "encloses", depID, true)
	b.relate(namespaceURN(ns), "encloses", cmID, true)
	for _, rev := range d.rsRevs {
		rs := rsName(seed, svc.name, rev)
		rsID := k8sURN(ns, "replicaset", rs)
		replicas := 0
		for _, p := range d.pods {
			if p.revision == rev {
				replicas++
			}
		}
		b.component(rsID, "replicaset", map[string]any{"name": rs, "layer": "Controllers", "kind": "ReplicaSet",
			"tags":    withTag(tags, "pod-template-hash", rs[len(svc.name)+1:]),
			"version": versionOf(rev), "spec": map[string]any{"replicas": replicas}})
		b.relate(depID, "controls", rsID, false)
	}
	for _, p := range d.pods {
		podTopology(b, p, svcID, cmID)
	}
}

// podTopology adds a pod of a deployment with its containers.
func podTopology(b *builder, p pod, svcID, cmID string) {
	ns := p.svc.namespace
	id := k8sURN(ns, "pod", p.name)
	phase := "Running"
	if !p.ready {
		phase = "Pending"
	}
	b.component(id, "pod", map[string]any{"name": p.name, "layer": "Pods", "kind": "Pod",
		"tags": map[string]string{"cluster-name": cluster, "namespace": ns, "app": p.svc.name,
			"version": p.version(), "pod-template-hash": p.rs[len(p.svc.name)+1:]},
		"status": map[string]any{"phase": phase, "ready": p.ready}, "nodeName": p.node})
	b.relate(k8sURN(ns, "replicaset", p.rs), "controls", id, false)
	b.relate(svcID, "exposes", id, false)
	b.relate(id, "scheduled_on", nodeURN(p.node), false)
	b.relate(id, "uses_value", cmID, false)
	containers := []string{p.svc.name}
	if p.svc.sidecar {
		containers = append(containers, "istio-proxy")
	}
	for _, c := range containers {
		cid := containerURN(ns, p.name, c)
		image := fmt.Sprintf("registry.shop.internal/%s:%s", p.svc.name, p.version())
		if c == "istio-proxy" {
			image = "docker.io/istio/proxyv2:1.23.2"
		}
		b.component(cid, "container", map[string]any{"name": c, "layer": "Containers", "kind": "Container",
			"tags":  map[string]string{"cluster-name": cluster, "namespace": ns, "pod-name": p.name},
			"image": image})
		b.relate(id, "encloses", cid, false)
	}
}

// nodeAgents adds the agent's daemon set: one pod per node.
func nodeAgents(b *builder, seed uint64) {
	const ns, name = "monitoring", "stackstate-agent"
	dsID := k8sURN(ns, "daemonset", name)
	tags := map[string]string{"cluster-name": cluster, "namespace": ns, "app": name}
	b.component(dsID, "daemonset", map[string]any{"name": name, "layer": "Controllers", "kind": "DaemonSet", "tags": tags})
	b.relate(namespaceURN(ns), "encloses", dsID, true)
	for _, n := range nodes {
		pn := name + "-" + suffix(seed, 5, name, n)
		id := k8sURN(ns, "pod", pn)
		b.component(id, "pod", map[string]any{"name": pn, "layer": "Pods", "kind": "Pod", "tags": tags,
			"status": map[string]any{"phase": "Running", "ready": true}, "nodeName": n})
		b.relate(dsID, "controls", id, false)
		b.relate(id, "scheduled_on", nodeURN(n), false)
		cid := containerURN(ns, pn, "agent")
		b.component(cid, "container", map[string]any{"name": "agent", "layer": "Containers", "kind": "Container",
			"tags": map[string]string{"cluster-name": cluster, "namespace": ns, "pod-name": pn}, "image": "quay.io/stackstate/stackstate-k8s-agent:3.0.2"})
		b.relate(id, "encloses", cid, false)
	}
}

func withTag(tags map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(tags)+1)
	for key, val := range tags {
		out[key] = val
	}
	out[k] = v
	return out
}

// agentTopology is the host agents' snapshot: every host (the nodes'
// too), its processes, and the databases and queue on the hosts outside
// the cluster. It does not change over the scenario.
func agentTopology(seed uint64) Topology {
	b := newSnapshot(agentInstance)
	for i, h := range append(append([]string{}, nodes...), hosts...) {
		b.component(hostURN(h), "host", map[string]any{"name": hostName(h), "hostname": hostName(h), "layer": "Machines",
			"labels": []string{"cloud:aws", "region:eu-west-1", "zone:" + zone(i)},
			"tags":   []string{"os:linux", "instance-type:m6i.large", "integration-type:host", "integration-url:" + hostName(h)}})
		for _, proc := range processesOf(h) {
			pid := 300 + hash(seed, h, proc)%30000
			started := 1767225600000 + hash(seed, h, proc, "started")%86400000
			id := fmt.Sprintf("urn:process:/%s:%d:%d", hostName(h), pid, started)
			b.component(id, "process", map[string]any{"name": proc, "layer": "Processes",
				"tags": []string{"pid:" + strconv.FormatUint(pid, 10), "host:" + hostName(h)}})
			b.relate(id, "is_hosted_on", hostURN(h), false)
		}
	}
	for i := range backends {
		bk := &backends[i]
		layer, tag := "Databases", "db:"
		if bk.typ == "queue" {
			layer, tag = "Messaging", "messaging:"
		}
		b.component(backendURN(bk), bk.typ, map[string]any{"name": bk.name, "layer": layer, "version": bk.version,
			"identifiers": []string{serviceURN(bk.name)},
			"tags":        []string{tag + bk.kind, "integration-type:" + bk.kind, "integration-url:" + hostName(bk.host)}})
		b.relate(backendURN(bk), "is_hosted_on", hostURN(bk.host), false)
	}
	return b.t
}

// processesOf lists what runs on a host, besides the agent.
func processesOf(h string) []string {
	procs := []string{"stackstate-agent", "sshd"}
	for _, n := range nodes {
		if n == h {
			return append(procs, "kubelet", "containerd")
		}
	}
	for _, bk := range backends {
		if bk.host == h {
			procs = append(procs, bk.kind)
		}
	}
	return procs
}

// tracesTopology is the services and their calls as traces show them:
// each service by its urn:service identifier (merging with the Kubernetes
// service of that name), calls between services, and uses of the
// databases and queue (their urn:service identifiers).
func tracesTopology() Topology {
	b := newSnapshot(otelInstance)
	for _, svc := range services {
		b.component(serviceURN(svc.name), "service", map[string]any{"name": svc.name, "layer": "Services",
			"labels": []string{"service.language:" + svc.lang, "telemetry.sdk:opentelemetry"}})
	}
	for _, svc := range services {
		for _, callee := range svc.calls {
			typ := "calls"
			if findBackend(callee) != nil {
				typ = "uses"
			}
			b.relate(serviceURN(svc.name), typ, serviceURN(callee), false)
		}
	}
	return b.t
}
