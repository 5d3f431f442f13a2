package ingest

import (
	"slices"
	"strings"
	"sync"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

// ServiceMap derives topology from spans as they arrive (docs/ingest.md,
// "Services from spans"):
//
//   - a span's service (resource service.name) is a component of type
//     service, identifier urn:service:/<name>;
//   - its instance, when the resource has host.name or
//     service.instance.id, a service-instance urn:service-instance:/<name>:/<host or instance id>,
//     related service –has→ instance;
//   - its host (host.name) a host urn:host:/<name>, instance –runs_on→ host;
//   - a call between two services a relation caller –calls→ callee: a span
//     whose parent span belongs to another service (a server span under
//     another service's client span, a consumer under a producer); a
//     client or producer span's peer.service attribute; or a client or
//     producer span's server.address (net.peer.name before semantic
//     conventions 1.21) that a server or consumer span of another service
//     gave as its own server.address (net.host.name), the address the
//     callee is called by. The relation names the callee by its
//     identifier, so it shows once a component holds it: the callee's own
//     spans, or an agent's component (a database with
//     urn:service:/<name>). No component is made up for a peer: an
//     agent's database must not become a service, nor an address one.
//
// The identifiers are those of telemetry.Identifiers, which the agent
// gives the same things, so these components merge with what agents
// report, and a service's metrics, events and spans meet it in FOR.
//
// A parent and its child usually arrive in different requests (two
// processes export them), so the map remembers the service of recent
// client, producer and unknown-kind spans, and children still waiting for
// their parent, each up to MaxSpans, forgetting about half when full: a
// call whose two spans are further apart is found when it happens again.
// Likewise the service each server address belongs to, and the callers
// still waiting for an address's service.
//
// Only what is new or changed is returned: the map remembers what it
// returned for each element (Forget undoes that after a failed commit),
// so a steady stream of spans writes no topology at all. Safe for
// concurrent use.
type ServiceMap struct {
	source   string
	maxSpans int

	mu      sync.Mutex
	put     map[string]string   // external id → a signature of what was put
	recent  map[string]string   // span id → service, of possible callers
	waiting map[string][]string // parent span id → services of its children
	servers map[string]string   // server address → the service serving it
	callers map[string][]string // server address → services calling it, its service unknown
	names   map[string]string   // the services and addresses kept above, each once
}

// DefaultServiceMapSource is the topology source of a receiver's service
// map: one source for everything spans tell, apart from any agent's, so
// that an agent's snapshot never deletes it nor it an agent's elements.
const DefaultServiceMapSource = "opentelemetry:spans"

// NewServiceMap returns an empty map writing as source (the default when
// empty), remembering up to maxSpans spans (1<<17 when 0).
func NewServiceMap(source string, maxSpans int) *ServiceMap {
	if source == "" {
		source = DefaultServiceMapSource
	}
	if maxSpans <= 0 {
		maxSpans = 1 << 17
	}
	return &ServiceMap{source: source, maxSpans: maxSpans, put: map[string]string{},
		recent: map[string]string{}, waiting: map[string][]string{},
		servers: map[string]string{}, callers: map[string][]string{}, names: map[string]string{}}
}

// Observe returns the topology that spans add or change, or nil. The
// caller commits it (through the Log, as any topology) and calls Forget
// with it if that fails.
func (m *ServiceMap) Observe(spans []traces.Span) *Topology {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := serviceBatch{m: m, t: &Topology{Source: m.source}}
	var last telemetry.Tags
	for i := range spans {
		s := &spans[i]
		if s.Service == "" {
			continue
		}
		// Spans of one resource share its tags: their components are
		// described once.
		if !sameTags(s.Resource, last) {
			b.resource(s.Service, s.Resource)
			last = s.Resource
		}
		b.calls(s)
	}
	if len(b.t.Components) == 0 && len(b.t.Relations) == 0 {
		return nil
	}
	return b.t
}

// Forget forgets having returned t's elements, so that the next spans
// that describe them return them again.
func (m *ServiceMap) Forget(t *Topology) {
	if t == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range t.Components {
		delete(m.put, c.ExternalID)
	}
	for _, r := range t.Relations {
		delete(m.put, r.ExternalID)
	}
}

// sameTags reports whether a and b are the same slice (not merely equal).
func sameTags(a, b telemetry.Tags) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// serviceBatch collects what one Observe returns.
type serviceBatch struct {
	m *ServiceMap
	t *Topology
}

// resource describes the service, instance and host of a resource.
func (b *serviceBatch) resource(service string, res telemetry.Tags) {
	if !fits(service, first(res, "host.name"), first(res, "service.instance.id"), first(res, "service.namespace")) {
		return // the spans are kept; a component cannot have such names
	}
	// Only what spans know for sure: an agent that reports the same
	// service (a Kubernetes service, a database) says more, and its
	// domain and labels should not be contradicted.
	svcID := telemetry.ServiceIdentifier(service)
	b.component(svcID, graphstore.ComponentData{Name: service, Type: "service", Layer: "Services",
		Environments: environments(res), Identifiers: []string{svcID}})
	host := first(res, "host.name")
	where := host
	if where == "" {
		where = first(res, "service.instance.id")
	}
	if where == "" {
		return
	}
	instID := telemetry.ServiceInstanceIdentifier(service, where)
	b.component(instID, graphstore.ComponentData{Name: service + " on " + where, Type: "service-instance", Layer: "Service Instances",
		Environments: environments(res), Identifiers: []string{instID},
		Labels: labels(res, "service.instance.id", "service.version", "process.pid")})
	b.relation(svcID, "has", instID)
	if host != "" {
		hostID := telemetry.HostIdentifier(host)
		b.component(hostID, graphstore.ComponentData{Name: host, Type: "host", Layer: "Machines", Identifiers: []string{hostID}})
		b.relation(instID, "runs_on", hostID)
	}
}

// calls finds the calls a span shows: to it from its parent's service,
// from it to the children that waited for it, to its peer.service, and
// between the services of a server address.
func (b *serviceBatch) calls(s *traces.Span) {
	m := b.m
	switch s.Kind {
	case "server", "consumer":
		b.fromParent(s)
		b.serves(s)
	case "client", "producer":
		m.remember(s)
		if peer := first(s.Attributes, "peer.service"); peer != "" {
			if peer != s.Service && fits(peer, s.Service) {
				b.call(s.Service, peer)
			}
		} else {
			b.toAddress(s)
		}
	case "internal":
	default: // trace-agent spans without span.kind: either side
		m.remember(s)
		b.fromParent(s)
	}
	if kids, ok := m.waiting[s.SpanID]; ok {
		delete(m.waiting, s.SpanID)
		for _, callee := range kids {
			b.call(s.Service, callee)
		}
	}
}

// fromParent finds the call to a span from its parent, or leaves the
// span waiting for its parent.
func (b *serviceBatch) fromParent(s *traces.Span) {
	m := b.m
	if s.ParentID == "" {
		return
	}
	if caller, ok := m.recent[s.ParentID]; ok {
		b.call(caller, s.Service)
		return
	}
	if len(m.waiting) >= m.maxSpans {
		halve(m.waiting)
	}
	if w := m.waiting[s.ParentID]; !slices.Contains(w, s.Service) {
		m.waiting[s.ParentID] = append(w, m.keep(s.Service))
	}
}

// serverAddress is the address a span gives for the server: for a
// server span its own, for a client span the one it calls.
func serverAddress(s *traces.Span, legacy string) string {
	if a := first(s.Attributes, "server.address"); a != "" {
		return a
	}
	return first(s.Attributes, legacy)
}

// serves learns which service a server span's address belongs to and
// finds the calls of the callers that waited for it.
func (b *serviceBatch) serves(s *traces.Span) {
	m := b.m
	addr := serverAddress(s, "net.host.name")
	if addr == "" || !fits(addr) || m.servers[addr] == s.Service {
		return
	}
	if len(m.servers) >= m.maxSpans {
		halve(m.servers)
	}
	m.servers[m.keep(addr)] = m.keep(s.Service)
	if callers, ok := m.callers[addr]; ok {
		delete(m.callers, addr)
		for _, c := range callers {
			b.call(c, s.Service)
		}
	}
}

// toAddress finds the call of a client span to the service of the
// address it calls, or leaves the caller waiting for that service.
func (b *serviceBatch) toAddress(s *traces.Span) {
	m := b.m
	addr := serverAddress(s, "net.peer.name")
	if addr == "" || !fits(addr) {
		return
	}
	if callee, ok := m.servers[addr]; ok {
		b.call(s.Service, callee)
		return
	}
	if len(m.callers) >= m.maxSpans {
		halve(m.callers)
	}
	if w := m.callers[addr]; !slices.Contains(w, s.Service) {
		m.callers[m.keep(addr)] = append(w, m.keep(s.Service))
	}
}

// remember keeps a possible caller's service.
func (m *ServiceMap) remember(s *traces.Span) {
	if len(m.recent) >= m.maxSpans {
		halve(m.recent)
	}
	m.recent[s.SpanID] = m.keep(s.Service)
}

// keep returns a copy of a name to keep, one per name: a span's strings
// may be cut from its whole request (the OTLP decoder's), which the maps
// must not hold on to.
func (m *ServiceMap) keep(name string) string {
	if k, ok := m.names[name]; ok {
		return k
	}
	if len(m.names) >= m.maxSpans {
		clear(m.names) // the maps' copies stay valid; new ones are made
	}
	k := strings.Clone(name)
	m.names[k] = k
	return k
}

// halve forgets about half of a map's entries (which ones is Go's map
// order: a bound, not a cache policy).
func halve[V any](m map[string]V) {
	n := len(m) / 2
	for k := range m {
		if n == 0 {
			return
		}
		delete(m, k)
		n--
	}
}

func (b *serviceBatch) call(caller, callee string) {
	if caller == callee || caller == "" || callee == "" {
		return
	}
	b.relation(telemetry.ServiceIdentifier(caller), "calls", telemetry.ServiceIdentifier(callee))
}

func (b *serviceBatch) component(ext string, d graphstore.ComponentData) {
	sig := strings.Join([]string{d.Name, d.Type, d.Layer, d.Domain, strings.Join(d.Environments, ","), strings.Join(d.Labels, ",")}, "\x00")
	if b.changed(ext, sig) {
		b.t.Components = append(b.t.Components, Component{ExternalID: ext, Data: d})
	}
}

// relation puts from –typ→ to; its external id is "<from>-<typ>-<to>",
// as the agent names the relations of Python checks.
func (b *serviceBatch) relation(from, typ, to string) {
	ext := from + "-" + typ + "-" + to
	if b.changed(ext, "") {
		b.t.Relations = append(b.t.Relations, Relation{ExternalID: ext,
			Data: graphstore.RelationData{Type: typ, SourceRef: from, TargetRef: to, Dependency: graphstore.DependencyOneWay}})
	}
}

// changed reports whether an element is new or differs from what was
// returned for it last, and records it.
func (b *serviceBatch) changed(ext, sig string) bool {
	if old, ok := b.m.put[ext]; ok && old == sig {
		return false
	}
	b.m.put[ext] = sig
	return true
}

// fits reports whether names fit in a component's identifiers (with the
// longest prefix, a service instance's, and two names).
func fits(names ...string) bool {
	n := len("urn:service-instance:/:/")
	for _, s := range names {
		n += len(s)
	}
	return n <= graphstore.MaxStringBytes
}

// environments is a resource's deployment environment.
func environments(res telemetry.Tags) []string {
	for _, k := range []string{"deployment.environment.name", "deployment.environment"} {
		if v := first(res, k); v != "" {
			return []string{v}
		}
	}
	return nil
}

// labels are "key:value" of the resource attributes named.
func labels(res telemetry.Tags, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if v := first(res, k); v != "" {
			out = append(out, k+":"+v)
		}
	}
	return out
}
