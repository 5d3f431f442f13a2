package ingest

import (
	"fmt"
	"strings"
	"testing"

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
	if got := topoText(m.Observe(steps[4].spans)); got != steps[4].want {
		t.Errorf("after Forget: %s", got)
	}
	for i := range 100 {
		m.Observe([]traces.Span{mapSpan("x", "", fmt.Sprint("c", i), "", "client"), mapSpan("y", "", fmt.Sprint("s", i), fmt.Sprint("nobody", i), "server")})
	}
	if len(m.recent) > 8 || len(m.waiting) > 8 {
		t.Errorf("remembers %d spans and %d waiting, bound 8", len(m.recent), len(m.waiting))
	}
}
