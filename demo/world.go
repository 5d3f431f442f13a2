package demo

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
)

// The environment's fixed parts: a Kubernetes cluster running a web shop,
// and the machines outside it (databases, a queue) that a StackState agent
// reports. Everything that changes over time lives in state (state.go).

const (
	cluster     = "shop-prod"
	domain      = "Webshop"
	environment = "Production"
	hostSuffix  = ".shop.internal"
)

// Topology sources, as "<instance type>:<instance url>" of the intake
// payloads: the cluster agent, the host agents' integrations, and the
// service topology derived from traces.
var (
	k8sInstance   = instance{Type: "kubernetes", URL: cluster}
	agentInstance = instance{Type: "agent", URL: "integrations"}
	otelInstance  = instance{Type: "opentelemetry", URL: cluster}
)

// serviceSpec is one microservice of the shop: a Kubernetes service and
// deployment in a namespace, and what it calls.
type serviceSpec struct {
	name, namespace string
	lang            string   // the language its SDK reports
	replicas        int      // replicas at rest
	calls           []string // services, databases and queues it calls
	sidecar         bool     // whether its pods carry a service-mesh proxy
	baseLatency     float64  // its own share of a request's duration, in ms
}

// services is the shop. Calls go from caller to callee; a database or
// queue among the calls is a "uses" relation instead of "calls".
var services = []serviceSpec{
	{"frontend", "shop", "nodejs", 4, []string{"catalog", "cart", "checkout", "search", "recommendations", "reviews", "ads", "currency", "auth"}, true, 12},
	{"ads", "shop", "java", 2, []string{"catalog"}, true, 5},
	{"currency", "shop", "nodejs", 2, nil, true, 1},
	{"catalog", "shop", "java", 3, []string{"catalog-db", "images"}, true, 8},
	{"images", "shop", "go", 3, nil, true, 4},
	{"cart", "shop", "go", 3, []string{"sessions"}, true, 3},
	{"checkout", "shop", "go", 3, []string{"cart", "payment", "inventory", "shipping", "orders-db", "orders-queue"}, true, 15},
	{"search", "shop", "java", 3, []string{"search-index"}, true, 9},
	{"recommendations", "shop", "python", 2, []string{"catalog"}, true, 20},
	{"reviews", "shop", "python", 2, []string{"catalog-db"}, true, 6},
	{"payment", "payments", "java", 3, []string{"fraud", "invoicing"}, false, 25},
	{"fraud", "payments", "python", 2, nil, false, 30},
	{"invoicing", "payments", "java", 2, []string{"orders-db"}, false, 10},
	{"auth", "platform", "go", 3, []string{"sessions"}, false, 2},
	{"inventory", "platform", "go", 2, []string{"catalog-db"}, false, 5},
	{"shipping", "platform", "nodejs", 2, []string{"orders-queue"}, false, 7},
	{"notifications", "platform", "python", 2, []string{"orders-queue"}, false, 4},
}

// namespaces of the shop, and the one holding the node agents.
var namespaces = []string{"shop", "payments", "platform", "monitoring"}

// nodes are the cluster's machines, each also a host its agent reports.
var nodes = []string{"node-1", "node-2", "node-3", "node-4", "node-5", "node-6", "node-7", "node-8"}

// backendSpec is a database or queue: a process on a host of its own,
// reported by the agent's integration for it.
type backendSpec struct {
	name, kind string // kind: the integration (postgresql, redis, …)
	typ        string // component type: database or queue
	host       string
	version    string
	latency    float64 // query or publish latency at rest, in ms
}

var backends = []backendSpec{
	{"orders-db", "postgresql", "database", "db-1", "16.2", 4},
	{"catalog-db", "postgresql", "database", "db-2", "16.2", 3},
	{"sessions", "redis", "database", "db-3", "7.2.5", 0.4},
	{"search-index", "elasticsearch", "database", "db-3", "8.15.0", 6},
	{"orders-queue", "rabbitmq", "queue", "mq-1", "3.13.6", 1},
}

// hosts outside the cluster, each running backends and an agent.
var hosts = []string{"db-1", "db-2", "db-3", "mq-1"}

// degraded is the backend whose slow queries the scenario follows.
const degraded = "orders-db"

func findService(name string) *serviceSpec {
	for i := range services {
		if services[i].name == name {
			return &services[i]
		}
	}
	return nil
}

func findBackend(name string) *backendSpec {
	for i := range backends {
		if backends[i].name == name {
			return &backends[i]
		}
	}
	return nil
}

// Identifiers: the agent's and the cluster agent's URN conventions
// (docs/ingest-formats.md §2.1), which is also what telemetry's identity
// rule derives from tags, so metrics, events and spans meet these
// components.

func hostName(h string) string { return h + hostSuffix }
func hostURN(h string) string  { return "urn:host:/" + hostName(h) }
func clusterURN() string       { return "urn:cluster:/kubernetes:" + cluster }
func nodeURN(n string) string  { return fmt.Sprintf("urn:kubernetes:/%s:node/%s", cluster, n) }
func namespaceURN(ns string) string {
	return fmt.Sprintf("urn:kubernetes:/%s:namespace/%s", cluster, ns)
}
func k8sURN(ns, kind, name string) string {
	return fmt.Sprintf("urn:kubernetes:/%s:%s:%s/%s", cluster, ns, kind, name)
}
func containerURN(ns, pod, c string) string { return k8sURN(ns, "pod", pod) + ":container/" + c }
func serviceURN(name string) string         { return "urn:service:/" + name }
func backendURN(b *backendSpec) string {
	return fmt.Sprintf("urn:%s:/%s:%s", b.kind, hostName(b.host), b.name)
}

// hash mixes the seed with strings and numbers into 64 bits: the one
// source of every random-looking choice, so that what the simulator says
// at a given moment depends on the seed and that moment only, never on
// how often it was asked before.
func hash(seed uint64, parts ...any) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	for _, p := range parts {
		h.Write([]byte{0})
		switch v := p.(type) {
		case string:
			h.Write([]byte(v))
		case int:
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			h.Write(b[:])
		case int64:
			binary.LittleEndian.PutUint64(b[:], uint64(v))
			h.Write(b[:])
		case uint64:
			binary.LittleEndian.PutUint64(b[:], v)
			h.Write(b[:])
		case float64:
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			h.Write(b[:])
		default:
			fmt.Fprint(h, v)
		}
	}
	x := h.Sum64()
	// FNV's low bits mix poorly; finish with splitmix64's finaliser.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// unit is hash as a float in [0, 1).
func unit(seed uint64, parts ...any) float64 {
	return float64(hash(seed, parts...)>>11) / (1 << 53)
}

// wave is a smooth periodic value in [-1, 1] with a phase from the seed,
// so that series drift rather than jump between samples.
func wave(seed uint64, key string, t, period float64) float64 {
	return math.Sin(2 * math.Pi * (t/period + unit(seed, key, "phase")))
}

const alnum = "bcdfghjklmnpqrstvwxz2456789" // the Kubernetes name generator's alphabet

// suffix is a Kubernetes-style random name suffix of n characters.
func suffix(seed uint64, n int, parts ...any) string {
	x := hash(seed, parts...)
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[x%uint64(len(alnum))]
		x /= uint64(len(alnum))
		if x == 0 {
			x = hash(seed, append(parts, i)...)
		}
	}
	return string(b)
}
