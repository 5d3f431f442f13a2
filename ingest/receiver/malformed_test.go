package receiver_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/ingest/receiver"
)

// TestMalformed sends a corpus of bad payloads: each gets a clear 4xx
// naming what is wrong (and where, for a field), and the store is
// unchanged: no version, no element, no snapshot state.
func TestMalformed(t *testing.T) {
	s := newServer(t, serverOpts{rc: receiver.Config{MaxBodyBytes: 256 << 10, MaxDecodedBytes: 512 << 10}})
	good := `{"topologies":[{"instance":{"type":"agent","url":"integrations"},"start_snapshot":true,
		"components":[{"externalId":"a","type":{"name":"t"},"data":{"name":"a"}}]}]}`
	if r := s.post(request{key: "agent", body: []byte(good)}); r.status != 202 {
		t.Fatalf("the good payload: %d %s", r.status, r.body)
	}
	topo := func(component string) string {
		return `{"topologies":[{"instance":{"type":"agent","url":"integrations"},"components":[` + component + `]}]}`
	}
	deep := strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100)
	var manyErrs []string
	for range 15 {
		manyErrs = append(manyErrs, `{"externalId":7}`)
	}
	gz := encode(t, []byte(good), "gzip")
	for _, tc := range []struct {
		name     string
		body     []byte
		encoding string // as in request
		status   int
		msg      string // in error.message
		path     string // error.problems[0].path, when the error names a field
	}{
		{name: "empty body", body: nil, status: 400, msg: "empty payload"},
		{name: "not JSON", body: []byte("hello"), status: 400, msg: "invalid JSON at line 1, column 1"},
		{name: "truncated JSON", body: []byte(good[:60]), status: 400, msg: "invalid JSON at line 1"},
		{name: "trailing garbage", body: []byte(good + "}"), status: 400, msg: "invalid JSON"},
		{name: "null", body: []byte("null"), status: 400, msg: "want an object or a list of objects, got null"},
		{name: "list of numbers", body: []byte("[1, 2]"), status: 400, msg: "want an object, got a number", path: "[0]"},
		{name: "unknown form", body: []byte(`{"foo": 1, "bar": [2]}`), status: 400, msg: `got an object with keys "bar", "foo"`},
		{name: "topologies not a list", body: []byte(`{"topologies": {}}`), status: 400, msg: "want a list, got an object", path: "topologies"},
		{name: "externalId a number", body: []byte(topo(`{"externalId": 5, "type": {"name": "t"}}`)), status: 400,
			msg: "want a string, got a number", path: "topologies[0].components[0].externalId"},
		{name: "type a string", body: []byte(topo(`{"externalId": "x", "type": "t"}`)), status: 400,
			msg: `want an object {"name": …}, got a string`, path: "topologies[0].components[0].type"},
		{name: "identifiers not strings", body: []byte(topo(`{"externalId": "x", "data": {"identifiers": [1]}}`)), status: 400,
			msg: "want a string, got a number", path: "topologies[0].components[0].data.identifiers[0]"},
		{name: "missing externalId", body: []byte(topo(`{"type": {"name": "t"}}`)), status: 400,
			msg: "missing", path: "topologies[0].components[0].externalId"},
		{name: "relation without target", body: []byte(`{"topologies":[{"instance":{"type":"a","url":"b"},"relations":[{"externalId":"r","sourceId":"a"}]}]}`),
			status: 400, msg: "missing", path: "topologies[0].relations[0].targetId"},
		{name: "start_snapshot a string", body: []byte(`{"topologies":[{"instance":{"type":"a","url":"b"},"start_snapshot":"yes"}]}`),
			status: 400, msg: "want a boolean, got a string", path: "topologies[0].start_snapshot"},
		{name: "huge string", body: []byte(topo(`{"externalId": "` + strings.Repeat("x", 5000) + `"}`)), status: 400,
			msg: "string is 5000 bytes long; the limit is 4096", path: "topologies[0].components[0].externalId"},
		{name: "deep nesting in data", body: []byte(topo(`{"externalId": "x", "data": ` + deep + `}`)), status: 400,
			msg: "properties nest 100 deep; the limit is 64", path: "topologies[0].components[0].data"},
		{name: "nesting beyond the JSON parser", body: []byte(strings.Repeat("[", 20000) + strings.Repeat("]", 20000)), status: 400,
			msg: "exceeded max depth"},
		{name: "many errors", body: []byte(topo(strings.Join(manyErrs, ","))), status: 400,
			msg: "(and 14 more errors)", path: "topologies[0].components[0].externalId"},
		{name: "stop without start", body: []byte(`{"topologies":[{"instance":{"type":"x","url":"y"},"stop_snapshot":true,"components":[{"externalId":"n"}]}]}`),
			status: 400, msg: "no snapshot is open", path: "topologies[0]"},
		{name: "bad gzip", body: []byte(good), encoding: "gzip", status: 400, msg: "is not gzip data"},
		{name: "truncated gzip", body: gz[:len(gz)/2], encoding: "raw-gzip", status: 400, msg: "does not decompress"},
		{name: "bad deflate", body: []byte("not deflate at all"), encoding: "raw-deflate", status: 400, msg: "does not decompress"},
		{name: "unknown encoding", body: []byte(good), encoding: "br", status: 415, msg: `Content-Encoding "br" is not supported`},
		{name: "body over the limit", body: bytes.Repeat([]byte(" "), 300<<10), status: 413, msg: "larger than 262144 bytes"},
		{name: "decompression bomb", body: bytes.Repeat([]byte(" "), 4<<20), encoding: "gzip", status: 413, msg: "decompressed body is larger than 524288 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, last := dumpFull(t, s.st), s.st.LastCommit()
			rq := request{key: "agent", body: tc.body, encoding: tc.encoding}
			switch tc.encoding {
			case "raw-gzip": // already compressed: send as is
				rq.encoding, rq.headers = "", map[string]string{"Content-Encoding": "gzip"}
			case "raw-deflate":
				rq.encoding, rq.headers = "", map[string]string{"Content-Encoding": "deflate"}
			case "gzip":
				if tc.name == "bad gzip" {
					rq.encoding, rq.headers = "", map[string]string{"Content-Encoding": "gzip"}
				}
			}
			checkError(t, s.post(rq), tc.status, tc.msg, tc.path)
			if got := dumpFull(t, s.st); got != before || !s.st.LastCommit().Equal(last) {
				t.Errorf("the store changed")
			}
		})
	}
	// The snapshot the good payload opened is still open: the refused
	// payloads did not touch it, and its stop removes nothing it saw.
	r := s.post(request{key: "agent", body: []byte(`{"topologies":[{"instance":{"type":"agent","url":"integrations"},"stop_snapshot":true}]}`)})
	if r.status != 202 || !strings.Contains(string(r.body), `"snapshotStopped":true`) || strings.Contains(string(r.body), "snapshotDeleted") {
		t.Fatalf("stopping the snapshot: %d %s", r.status, r.body)
	}
}
