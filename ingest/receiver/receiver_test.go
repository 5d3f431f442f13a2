package receiver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
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
//	query                                                  the input TQL's
//	    answer through POST /api/query
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
				return s.query(strings.TrimSpace(d.Input))
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
		"service_checks":[{"check":"ntp","status":0}],
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
		"service_checks: not stored: this build's receiver does not read this part of an intake payload",
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
