package telemetry

import (
	"slices"
	"strings"
)

// The identity rule: which component a metric series, an event or a span
// belongs to. It is defined here once; decoders, stores and the engine all
// use Identifiers. docs/telemetry.md states it for users.
//
// A record belongs to every component that holds one of its identifiers.
// Its identifiers are the explicit ones its payload names (an event's
// context.element_identifiers, a span's span.serviceURN or
// sts.service.identifiers) plus those its tags or attributes map to:
//
//	host, hostname, host.name               → urn:host:/<value>
//	service.name, service                   → urn:service:/<value>
//	k8s.cluster.name + k8s.namespace.name + k8s.pod.name
//	kube_cluster_name + kube_namespace + pod_name
//	                                        → urn:kubernetes:/<cluster>:<namespace>:pod/<pod>
//	stackstate-identifier                   → the value, as is
//	stackstate-identifiers                  → each comma-separated value
//
// These are the identifiers StackState's agent and its Kubernetes and trace
// integrations give the components (docs/ingest-formats.md §2.1), so a
// host's metrics meet the host component, a span meets the service it was
// recorded by, and an event meets the elements it names.

// hostKeys and serviceKeys are the tags naming a host and a service.
var (
	hostKeys    = []string{"host", "hostname", "host.name"}
	serviceKeys = []string{"service.name", "service"}
	podKeys     = [][3]string{
		{"k8s.cluster.name", "k8s.namespace.name", "k8s.pod.name"},
		{"kube_cluster_name", "kube_namespace", "pod_name"},
	}
)

// Identifiers returns the component identifiers of a record with these tags
// and explicit identifiers, sorted and without duplicates. explicit is not
// modified.
func Identifiers(tags Tags, explicit []string) []string {
	out := make([]string, 0, len(explicit)+2)
	for _, id := range explicit {
		if id = strings.TrimSpace(id); id != "" {
			out = append(out, id)
		}
	}
	for _, k := range hostKeys {
		for _, v := range tags.Get(k) {
			out = appendURN(out, HostIdentifier, v)
		}
	}
	for _, k := range serviceKeys {
		for _, v := range tags.Get(k) {
			out = appendURN(out, ServiceIdentifier, v)
		}
	}
	for _, keys := range podKeys {
		c, okc := tags.First(keys[0])
		ns, okn := tags.First(keys[1])
		pod, okp := tags.First(keys[2])
		if okc && okn && okp && c != "" && ns != "" && pod != "" {
			out = append(out, "urn:kubernetes:/"+c+":"+ns+":pod/"+pod)
		}
	}
	out = append(out, tags.Get("stackstate-identifier")...)
	for _, v := range tags.Get("stackstate-identifiers") {
		for _, id := range strings.Split(v, ",") {
			out = append(out, strings.TrimSpace(id))
		}
	}
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}

// IdentifierKey reports whether a tag key takes part in Identifiers: a
// record whose other tags have none of these keys has the identifiers of
// those tags alone, which lets a caller derive them once for many records.
func IdentifierKey(k string) bool {
	if slices.Contains(hostKeys, k) || slices.Contains(serviceKeys, k) || k == "stackstate-identifier" || k == "stackstate-identifiers" {
		return true
	}
	for _, keys := range podKeys {
		if slices.Contains(keys[:], k) {
			return true
		}
	}
	return false
}

func appendURN(out []string, urn func(string) string, v string) []string {
	if v = strings.TrimSpace(v); v == "" {
		return out
	}
	return append(out, urn(v))
}

// HostIdentifier is the identifier of the host named name: the one the
// agent gives its host components, and what a host tag maps to.
func HostIdentifier(name string) string { return "urn:host:/" + name }

// ServiceIdentifier is the identifier of the service named name: the one
// the agent's trace interpreter gives services, and what service.name
// maps to.
func ServiceIdentifier(name string) string { return "urn:service:/" + name }

// ServiceInstanceIdentifier is the identifier of a service's instance on
// a host (or, without a host, its service.instance.id), as the agent's
// trace interpreter names them without a process.
func ServiceInstanceIdentifier(service, where string) string {
	return "urn:service-instance:/" + service + ":/" + where
}
