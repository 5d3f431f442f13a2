package live

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/graphstore/graphtest"
)

// The example exchange of docs/websocket.md, replayed against a real server:
// every client line is sent, every server line must arrive as written
// (compared as JSON values), and each line in parentheses is the step the
// test performs there.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/websocket.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(doc), "## Example")
	_, block, _ := strings.Cut(rest, "```text\n")
	block, _, _ = strings.Cut(block, "```")
	lines := exchangeLines(block)

	st := pebble(t)
	b := &graphstore.Batch{Time: graphtest.At(10)}
	for _, n := range []string{"web", "checkout", "payments"} {
		b.PutComponent("agent", n, graphstore.ComponentData{Name: n, Type: "service"})
	}
	b.PutRelation("agent", "r1", graphstore.RelationData{Type: "calls", SourceRef: "web", TargetRef: "checkout"})
	b.PutRelation("agent", "r2", graphstore.RelationData{Type: "calls", SourceRef: "checkout", TargetRef: "payments"})
	apply(t, st, b)
	h := newHub(t, st, Limits{})
	url := serve(t, h, Session{})
	c := dial(t, url)
	steps := map[string]func(){
		"00:00:20: the agent reports payments CRITICAL; checkout, which calls it, takes CRITICAL as its propagated state": func() {
			b := &graphstore.Batch{Time: graphtest.At(20)}
			b.PutComponent("agent", "payments", graphstore.ComponentData{Name: "payments", Type: "service", Health: graphstore.HealthCritical})
			apply(t, st, b)
		},
		"00:00:25: the agent reports web CLEAR: not in the answer, so nothing is sent": func() {
			b := &graphstore.Batch{Time: graphtest.At(25)}
			b.PutComponent("agent", "web", graphstore.ComponentData{Name: "web", Type: "service", Health: graphstore.HealthClear})
			apply(t, st, b)
			syncHub(t, h)
		},
		"the connection drops; at 00:00:30 checkout stops calling payments, and so no longer depends on its state": func() {
			c.ws.Close()
			<-c.closed
			b := &graphstore.Batch{Time: graphtest.At(30)}
			b.DeleteRelation("agent", "r2")
			apply(t, st, b)
			syncHub(t, h)
		},
		"a new connection resumes from the seq the client holds": func() { c = dial(t, url) },
	}
	for _, l := range lines {
		switch l[0] {
		case '(':
			step := steps[strings.Trim(l, "()")]
			if step == nil {
				t.Fatalf("the test does not know the step %s", l)
			}
			step()
		case '>':
			if err := c.ws.WriteMessage(1, []byte(l[1:])); err != nil {
				t.Fatal(err)
			}
		case '<':
			got := c.must()
			if !sameJSON(t, got.raw, []byte(l[1:])) {
				t.Fatalf("docs/websocket.md shows\n%s\nthe server sent\n%s", l[1:], got.raw)
			}
		}
	}
}

// exchangeLines joins each message of the example onto one line, prefixed
// '>' (client) or '<' (server); lines in parentheses stay as they are.
func exchangeLines(block string) []string {
	var out []string
	for _, l := range strings.Split(block, "\n") {
		switch {
		case strings.HasPrefix(l, "→ "):
			out = append(out, ">"+l[len("→ "):])
		case strings.HasPrefix(l, "← "):
			out = append(out, "<"+l[len("← "):])
		case strings.HasPrefix(l, "("):
			out = append(out, l)
		case strings.TrimSpace(l) != "" && len(out) > 0:
			out[len(out)-1] += " " + strings.TrimSpace(l)
		}
	}
	return out
}

func sameJSON(t *testing.T, a, b []byte) bool {
	var x, y any
	for _, p := range []struct {
		data []byte
		v    *any
	}{{a, &x}, {b, &y}} {
		dec := json.NewDecoder(bytes.NewReader(p.data))
		dec.UseNumber()
		if err := dec.Decode(p.v); err != nil {
			t.Fatalf("not JSON: %s: %v", p.data, err)
		}
	}
	return reflect.DeepEqual(x, y)
}
