package receiver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tetrahq/tetra/graphstore"
)

// TestReceiver runs the datadriven files under testdata against a server
// with the receiver mounted, over real HTTP. Commands:
//
//	post [file=F] [path=P] [encoding=E] [key=K] [via=V] [type=T]   POST the input (or
//	    the repository's testdata file F) to P (default /stsAgent/intake),
//	    compressed with E (gzip, deflate, rawdeflate, or sent as is), with
//	    key K (default agent; none, bad, reader) sent via V (header, query,
//	    sts, dd), with Content-Type T (default application/json): the
//	    status and the answer
//	replay file=F                                          POST the payload
//	    of a recorded agent request to its uri_path with its headers (the
//	    recorded key replaced by the agent key)
//	query [at=T]                                           the input TQL's
//	    answer through POST /api/query (at time T, RFC 3339)
//	advance by=D [notick]                                  move the store's
//	    and the pipeline's clock on by D (a Go duration) and (unless
//	    notick) have the pipeline look for expired check states, as its
//	    ticker does: "tick" when it appended a tick record
//	restart                                                close everything
//	    and start again over the same data directory
func TestReceiver(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		s := newServer(t, serverOpts{})
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "post":
				return s.postCmd(t, d)
			case "replay":
				return s.replay(t, d)
			case "query":
				at := ""
				if d.HasArg("at") {
					d.ScanArgs(t, "at", &at)
				}
				return s.queryAt(strings.TrimSpace(d.Input), at)
			case "advance":
				var by string
				d.ScanArgs(t, "by", &by)
				dur, err := time.ParseDuration(by)
				if err != nil {
					d.Fatalf(t, "advance by=%s: %v", by, err)
				}
				ticked, err := s.advance(dur, !d.HasArg("notick"))
				switch {
				case err != nil:
					return "error: " + err.Error()
				case ticked:
					return "tick"
				}
				return "no tick"
			case "restart":
				s.restart()
				return ""
			}
			d.Fatalf(t, "unknown command %s", d.Cmd)
			return ""
		})
	})
}

func (s *server) postCmd(t *testing.T, d *datadriven.TestData) string {
	rq := request{key: "agent", body: []byte(d.Input)}
	for _, a := range d.CmdArgs {
		v := ""
		if len(a.Vals) > 0 {
			v = a.Vals[0]
		}
		switch a.Key {
		case "file":
			rq.body = readFixture(t, v)
		case "path":
			rq.path = v
		case "encoding":
			rq.encoding = v
		case "key":
			rq.key = v
			if v == "none" {
				rq.key = ""
			}
		case "via":
			rq.keyVia = v
		case "type":
			rq.headers = map[string]string{"Content-Type": v}
		default:
			d.Fatalf(t, "unknown argument %s", a.Key)
		}
	}
	return formatResponse(s.post(rq))
}

// replay posts a recorded request as the agent sent it.
func (s *server) replay(t *testing.T, d *datadriven.TestData) string {
	var file string
	d.ScanArgs(t, "file", &file)
	var recs []struct {
		Method  string            `json:"method"`
		URIPath string            `json:"uri_path"`
		Headers map[string]string `json:"headers"`
		Payload json.RawMessage   `json:"payload"`
	}
	if err := json.Unmarshal(readFixture(t, file), &recs); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, r := range recs {
		path := strings.ReplaceAll(r.URIPath, "API_KEY", s.token["agent"])
		req, err := http.NewRequest(r.Method, s.hs.URL+path, bytes.NewReader(r.Payload))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range r.Headers {
			switch strings.ToLower(k) {
			case "content-length", "host":
				continue
			}
			req.Header.Set(k, strings.ReplaceAll(v, "API_KEY", s.token["agent"]))
		}
		out.WriteString(formatResponse(s.do(req)))
	}
	return out.String()
}

// keyID matches a key id in a message (ids are random).
var keyID = regexp.MustCompile(`key [0-9a-f]{16}`)

// formatResponse prints a status, the Retry-After header when set, and
// the answer's JSON indented.
func formatResponse(r response) string {
	var b strings.Builder
	fmt.Fprintf(&b, "status %d\n", r.status)
	if ra := r.header.Get("Retry-After"); ra != "" {
		fmt.Fprintf(&b, "Retry-After: %s\n", ra)
	}
	var buf bytes.Buffer
	body := keyID.ReplaceAll(r.body, []byte("key <id>"))
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		b.Write(body)
	} else {
		b.Write(buf.Bytes())
	}
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteByte('\n')
	}
	return b.String()
}

// TestNoDataStores checks that a receiver without metric, event and span
// stores accepts an intake's topology and names every part it does not
// store, with the count, rather than dropping it silently.
func TestNoDataStores(t *testing.T) {
	s := newServer(t, serverOpts{noData: true})
	r := s.post(request{key: "agent", body: []byte(`{"metrics":[["cpu",1795168800,1.5]],
		"events":{"e":[{"msg_title":"t","timestamp":1795168800}]},
		"service_checks":[{"check":"ntp","status":0,"host_name":"c"}],
		"topologies":[{"instance":{"type":"agent","url":"x"},"components":[{"externalId":"c","type":{"name":"host"},"data":{"name":"c"}}]}]}`)})
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var ans struct {
		Samples, Events int
		Warnings        []struct{ Path, Message string }
	}
	if err := json.Unmarshal(r.body, &ans); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ans.Warnings {
		got = append(got, w.Path+": "+w.Message)
	}
	want := []string{
		": not stored: 1 metric samples, and this server has no store for them",
		": not stored: 1 events, and this server has no store for them",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || ans.Samples != 0 || ans.Events != 0 {
		t.Errorf("warnings %q samples %d events %d; want %q and none stored", got, ans.Samples, ans.Events, want)
	}
	if q := s.query(`name = "c"`); !strings.Contains(q, `component "c"`) {
		t.Errorf("the topology was not applied: %s", q)
	}
}

// TestOTLPProtobuf: OTLP/HTTP's protobuf encoding, what the SDKs' exporters
// send, stores the spans and answers an empty ExportTraceServiceResponse in
// the same encoding; a body that is not one is a 400 and stores nothing.
func TestOTLPProtobuf(t *testing.T) {
	s := newServer(t, serverOpts{})
	str := func(k, v string) *commonpb.KeyValue {
		return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
	}
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", "checkout")}},
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{
			TraceId: bytes.Repeat([]byte{0xab}, 16), SpanId: bytes.Repeat([]byte{0xcd}, 8), Name: "POST /checkout",
			Kind: tracepb.Span_SPAN_KIND_SERVER, StartTimeUnixNano: 1795168800000000000, EndTimeUnixNano: 1795168800250000000,
			Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "payment failed"},
		}}}},
	}}}
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	pb := map[string]string{"Content-Type": "application/x-protobuf"}
	r := s.post(request{path: "/v1/traces", key: "agent", body: body, headers: pb})
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/x-protobuf" || len(r.body) != 0 {
		t.Fatalf("status %d, type %q, body %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	q := s.query(`TRACES WHERE service = "checkout" FROM "2026-11-20T09:00:00Z" TO "2026-11-20T11:00:00Z"`)
	want := `span abababababababababababababababab/cdcdcdcdcdcdcdcd parent="" service="checkout" name="POST /checkout" kind="server" status="error" start=2026-11-20T10:00:00Z duration=250ms`
	if !strings.Contains(q, want) {
		t.Errorf("the span is not found:\n%s", q)
	}
	if r := s.post(request{path: "/v1/traces", key: "agent", body: []byte("\xff\xff not protobuf"), headers: pb}); r.status != http.StatusBadRequest ||
		!strings.Contains(string(r.body), "OTLP protobuf") {
		t.Errorf("a bad body: %d %s", r.status, r.body)
	}
}

// TestResentUnchanged: an agent re-sending what it sent before (as it does
// every collection interval) writes no new version of the elements it
// carries; a payload that changes one element writes a version of that
// element alone.
func TestResentUnchanged(t *testing.T) {
	s := newServer(t, serverOpts{})
	const comp = `{"externalId":"c%d","type":{"name":"host"},"data":{"name":"c%d","labels":["%s"]}}`
	payload := func(label1 string) []byte {
		return []byte(`{"topologies":[{"instance":{"type":"agent","url":"x"},"components":[` +
			fmt.Sprintf(comp, 1, 1, label1) + `,` + fmt.Sprintf(comp, 2, 2, "a") +
			`],"relations":[{"externalId":"r","type":{"name":"calls"},"sourceId":"c1","targetId":"c2"}]}]}`)
	}
	versions := func(body []byte) (commit time.Time, elems [3]int64) {
		t.Helper()
		r := s.post(request{key: "agent", body: body})
		var ans struct{ Version time.Time }
		if r.status != http.StatusAccepted || json.Unmarshal(r.body, &ans) != nil {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		snap, err := s.st.Snapshot(s.st.LastCommit())
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		for i, name := range []string{"c1", "c2"} {
			ids, err := snap.Postings(graphstore.IdxName, name)
			if err != nil || len(ids) != 1 {
				t.Fatalf("%s: %v %v", name, ids, err)
			}
			e, err := snap.Element(ids[0])
			if err != nil {
				t.Fatal(err)
			}
			elems[i] = e.Version
			if i == 0 { // c1 -> c2
				adj, err := snap.Adjacent(ids[0], graphstore.IdxOut, nil)
				if err != nil || len(adj) != 1 {
					t.Fatalf("relation of c1: %v %v", adj, err)
				}
				rel, err := snap.Element(adj[0].Relation)
				if err != nil {
					t.Fatal(err)
				}
				elems[2] = rel.Version
			}
		}
		return ans.Version, elems
	}
	first, v1 := versions(payload("a"))
	s.advance(time.Minute, false)
	_, v2 := versions(payload("a"))
	if v2 != v1 || v1[0] != first.UnixNano() {
		t.Errorf("the same payload again: versions %v, want %v (all of the first commit, %d)", v2, v1, first.UnixNano())
	}
	s.advance(time.Minute, false)
	third, v3 := versions(payload("b"))
	if want := [3]int64{third.UnixNano(), v1[1], v1[2]}; v3 != want {
		t.Errorf("a payload changing c1: versions %v, want %v", v3, want)
	}
}
