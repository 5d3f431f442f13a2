package ingest

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/tetrahq/tetra/telemetry"
	"github.com/tetrahq/tetra/traces"
)

func mapSpan(service, host, id, parent, kind string, attrs ...telemetry.Tag) traces.Span {
	res := telemetry.NewTags(telemetry.Tags{{Key: "service.name", Value: service}, {Key: "host.name", Value: host}})
	return traces.Span{Service: service, SpanID: id, ParentID: parent, Kind: kind, Resource: res, Attributes: telemetry.NewTags(attrs)}
}

// topoText lists a topology's external ids.
func topoText(t *Topology) string {
	if t == nil {
		return "(nothing)"
	}
	var out []string
	for _, c := range t.Components {
		out = append(out, c.ExternalID)
	}
	for _, r := range t.Relations {
		out = append(out, r.ExternalID)
	}
	return t.Source + ": " + strings.Join(out, " ")
}

// TestServiceMap: a call is found whichever of its two spans comes
// first, across batches; what was returned is not returned again unless
// forgotten; the spans remembered stay within the bound.
func TestServiceMap(t *testing.T) {
	m := NewServiceMap("", 8)
	steps := []struct {
		spans []traces.Span
		want  string
	}{
		// checkout's server span first: its caller is not known yet.
		{[]traces.Span{mapSpan("checkout", "app-1", "s1", "c1", "server")},
			"opentelemetry:spans: urn:service:/checkout urn:service-instance:/checkout:/app-1 urn:host:/app-1 " +
				"urn:service:/checkout-has-urn:service-instance:/checkout:/app-1 urn:service-instance:/checkout:/app-1-runs_on-urn:host:/app-1"},
		// frontend's client span, the parent: the call.
		{[]traces.Span{mapSpan("frontend", "", "c1", "r1", "client")},
			"opentelemetry:spans: urn:service:/frontend urn:service:/frontend-calls-urn:service:/checkout"},
		// The same services and call again: nothing.
		{[]traces.Span{mapSpan("frontend", "", "c2", "r2", "client"), mapSpan("checkout", "app-1", "s2", "c2", "server")}, "(nothing)"},
		// peer.service names a callee that sends no spans.
		{[]traces.Span{mapSpan("checkout", "app-1", "c3", "s2", "client", telemetry.Tag{Key: "peer.service", Value: "payments"})},
			"opentelemetry:spans: urn:service:/checkout-calls-urn:service:/payments"},
		// A consumer under a producer of another service.
		{[]traces.Span{mapSpan("checkout", "app-1", "p1", "s2", "producer"), mapSpan("mailer", "", "k1", "p1", "consumer")},
			"opentelemetry:spans: urn:service:/mailer urn:service:/checkout-calls-urn:service:/mailer"},
		// A client span names the address it calls, whose service is not
		// known yet (its parent/child spans are not seen either): nothing.
		{[]traces.Span{mapSpan("frontend", "", "c4", "r4", "client", telemetry.Tag{Key: "server.address", Value: "cart.shop.svc"})}, "(nothing)"},
		// A server span of cart gives that address as its own: the call
		// that waited, and cart itself.
		{[]traces.Span{mapSpan("cart", "", "s5", "c9", "server", telemetry.Tag{Key: "server.address", Value: "cart.shop.svc"})},
			"opentelemetry:spans: urn:service:/cart urn:service:/frontend-calls-urn:service:/cart"},
		// Now a call to the address is found at once, also named the old
		// way (net.peer.name); an address nobody serves makes nothing, nor
		// does a call to one's own address.
		{[]traces.Span{mapSpan("mailer", "", "c6", "r6", "client", telemetry.Tag{Key: "net.peer.name", Value: "cart.shop.svc"}),
			mapSpan("mailer", "", "c7", "r7", "client", telemetry.Tag{Key: "server.address", Value: "api.stripe.com"}),
			mapSpan("cart", "", "c8", "r8", "client", telemetry.Tag{Key: "server.address", Value: "cart.shop.svc"})},
			"opentelemetry:spans: urn:service:/mailer-calls-urn:service:/cart"},
	}
	var last *Topology
	for i, st := range steps {
		last = m.Observe(st.spans)
		if got := topoText(last); got != st.want {
			t.Errorf("step %d: %s\nwant %s", i, got, st.want)
		}
	}
	// After a failed commit, forgetting makes the map return it again.
	m.Forget(last)
	if got := topoText(m.Observe(steps[len(steps)-1].spans)); got != steps[len(steps)-1].want {
		t.Errorf("after Forget: %s", got)
	}
	for i := range 100 {
		m.Observe([]traces.Span{mapSpan("x", "", fmt.Sprint("c", i), "", "client"), mapSpan("y", "", fmt.Sprint("s", i), fmt.Sprint("nobody", i), "server")})
	}
	for i := range 100 {
		m.Observe([]traces.Span{mapSpan("x", "", fmt.Sprint("c", i), "", "client", telemetry.Tag{Key: "server.address", Value: fmt.Sprint("a", i)}),
			mapSpan("y", "", fmt.Sprint("s", i), "", "server", telemetry.Tag{Key: "server.address", Value: fmt.Sprint("b", i)})})
	}
	if len(m.recent) > 8 || len(m.waiting) > 8 || len(m.servers) > 8 || len(m.callers) > 8 {
		t.Errorf("remembers %d spans, %d waiting, %d addresses and %d callers, bound 8", len(m.recent), len(m.waiting), len(m.servers), len(m.callers))
	}
}

// TestServiceMapKeepsCopies: the map keeps its own copies of the names it
// remembers, not the spans' strings, which may be cut from a whole request.
func TestServiceMapKeepsCopies(t *testing.T) {
	m := NewServiceMap("", 0)
	body := strings.Repeat("x", 1<<10) + "checkout" + "cart.local"
	service, addr := body[1<<10:1<<10+8], body[1<<10+8:]
	m.Observe([]traces.Span{{TraceID: "01", SpanID: "02", Service: service, Kind: "client",
		Attributes: telemetry.Tags{{Key: "server.address", Value: addr}}}})
	inBody := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		b := uintptr(unsafe.Pointer(unsafe.StringData(body)))
		return p >= b && p < b+uintptr(len(body))
	}
	if v := m.recent["02"]; v != "checkout" || inBody(v) {
		t.Errorf("recent holds %q (in the body: %v)", v, inBody(v))
	}
	for k, v := range m.callers {
		if k != "cart.local" || inBody(k) || len(v) != 1 || inBody(v[0]) {
			t.Errorf("callers holds %q → %q, in the body", k, v)
		}
	}
	if len(m.callers) != 1 {
		t.Errorf("callers: %v", m.callers)
	}
}
