package demo

import (
	"math"
	"time"
)

// Metrics, as raw intake samples tagged the way StackState's agents tag
// them, so that telemetry's identity rule ties each series to its
// component: hostname to the host (and the node merged with it), service
// to the service (and a database's or queue's urn:service identifier),
// kube_cluster_name + kube_namespace + pod_name to the pod.
//
// A value depends on the seed, the series and the sample's time only.

// waiting is how many database connections wait on locks at a level.
func waiting(level float64) int { return int(math.Round(40 * level)) }

// hostMetrics are every host's system metrics at wall time t.
func hostMetrics(seed uint64, s *state, t time.Time) []Metric {
	var out []Metric
	sec := float64(t.UnixMilli()) / 1000
	for _, h := range append(append([]string{}, nodes...), hosts...) {
		load := 0.35 + 0.1*wave(seed, h+"cpu", sec, 600) + 0.03*wave(seed, h+"cpu2", sec, 37)
		if h == findBackend(degraded).host {
			load += 0.5 * s.level // the slow database burns CPU
		}
		out = append(out,
			Metric{Name: "system.cpu.user", Time: t, Value: 100 * clamp(load, 0.01, 0.99), Hostname: hostName(h)},
			Metric{Name: "system.load.1", Time: t, Value: 4 * load, Hostname: hostName(h)},
			Metric{Name: "system.mem.used", Time: t, Value: math.Round((5 + 1.5*wave(seed, h+"mem", sec, 1800)) * (1 << 30)), Hostname: hostName(h)})
	}
	return out
}

// serviceMetrics are each service's request rate, mean duration and error
// rate at wall time t. A service's duration is its own share plus its
// callees', so the slow database shows upstream in checkout, payment's
// invoicing and the frontend.
func serviceMetrics(seed uint64, s *state, t time.Time) []Metric {
	var out []Metric
	sec := float64(t.UnixMilli()) / 1000
	for i := range services {
		svc := &services[i]
		tags := []string{"service:" + svc.name, "namespace:" + svc.namespace, "kube_cluster_name:" + cluster}
		rate := requestRate(seed, svc, sec)
		errs := rate * (0.002 + 0.05*clamp(dependsOnDegraded(svc.name)*s.level, 0, 1))
		out = append(out,
			Metric{Name: "http.server.requests", Time: t, Value: rate, Tags: tags},
			Metric{Name: "http.server.duration", Time: t, Value: duration(seed, svc.name, s.level, sec), Tags: tags},
			Metric{Name: "http.server.errors", Time: t, Value: errs, Tags: tags})
	}
	for i := range backends {
		bk := &backends[i]
		tags := []string{"service:" + bk.name, "db:" + bk.kind}
		lat := backendLatency(bk, s.level) * (1 + 0.1*wave(seed, bk.name, sec, 45))
		if bk.typ == "queue" {
			tags[1] = "messaging:" + bk.kind
			out = append(out, Metric{Name: "queue.messages", Time: t, Value: math.Round(20 + 15*wave(seed, bk.name+"q", sec, 120)), Tags: tags},
				Metric{Name: "queue.publish.duration", Time: t, Value: lat, Tags: tags})
			continue
		}
		conns := 12 + 4*wave(seed, bk.name+"c", sec, 300)
		if bk.name == degraded {
			conns += float64(waiting(s.level))
		}
		out = append(out, Metric{Name: "db.query.duration", Time: t, Value: lat, Tags: tags},
			Metric{Name: "db.connections", Time: t, Value: math.Round(conns), Tags: tags})
	}
	return out
}

// podMetrics are each pod's CPU (millicores) and memory at wall time t.
func podMetrics(seed uint64, s *state, t time.Time) []Metric {
	var out []Metric
	sec := float64(t.UnixMilli()) / 1000
	for _, p := range s.allPods() {
		tags := []string{"kube_cluster_name:" + cluster, "kube_namespace:" + p.svc.namespace, "pod_name:" + p.name, "app:" + p.svc.name}
		cpu := 120 + 60*wave(seed, p.name, sec, 240)
		if !p.ready {
			cpu = 400 // starting up: the JIT, caches warming
		}
		out = append(out, Metric{Name: "container.cpu.usage", Time: t, Value: math.Round(cpu), Tags: tags},
			Metric{Name: "container.memory.usage", Time: t, Value: math.Round((300 + 50*wave(seed, p.name+"m", sec, 900)) * (1 << 20)), Tags: tags})
	}
	return out
}

// requestRate is a service's requests per second: a daily-ish swell and
// a little noise, scaled by how much of the shop's traffic reaches it.
func requestRate(seed uint64, svc *serviceSpec, sec float64) float64 {
	share := map[string]float64{"frontend": 1, "catalog": 0.8, "images": 0.7, "search": 0.3, "cart": 0.25,
		"recommendations": 0.4, "reviews": 0.2, "auth": 0.5, "checkout": 0.05, "payment": 0.05, "fraud": 0.05,
		"invoicing": 0.05, "inventory": 0.06, "shipping": 0.05, "notifications": 0.05, "ads": 0.9, "currency": 0.6}[svc.name]
	return round(share*(120+30*wave(seed, "traffic", sec, 3600)+5*wave(seed, svc.name+"rate", sec, 50)), 2)
}

// duration is a service's mean request duration in ms: its own share and
// that of everything it calls, the degraded database's latency included.
func duration(seed uint64, name string, level, sec float64) float64 {
	return round(durationOf(name, level, 0)*(1+0.08*wave(seed, name+"dur", sec, 70)), 2)
}

func durationOf(name string, level float64, depth int) float64 {
	if bk := findBackend(name); bk != nil {
		return backendLatency(bk, level)
	}
	svc := findService(name)
	if svc == nil || depth > len(services) {
		return 0
	}
	d := svc.baseLatency
	for _, c := range svc.calls {
		d += durationOf(c, level, depth+1) / 2 // callees run partly in parallel
	}
	return d
}

// dependsOnDegraded is 1 when a service calls the degraded database,
// directly or through other services.
func dependsOnDegraded(name string) float64 {
	if durationOf(name, 1, 0)-durationOf(name, 0, 0) > 1 {
		return 1
	}
	return 0
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
