package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// QueryRequest is the body of POST /api/query and POST /api/explain.
type QueryRequest struct {
	// Query is one TQL statement.
	Query string `json:"query"`
	// At runs the query as if it were this time (a TQL time: "now",
	// "-1h", an ISO-8601 time or epoch milliseconds); relative times in
	// the query count from it. Default: the server's clock.
	At string `json:"at,omitempty"`
	// TimeoutMs bounds the query, encoding its answer included (default
	// and maximum: the server's query timeout).
	TimeoutMs int64 `json:"timeoutMs,omitempty"`
	// MaxElements is the element limit (default and maximum: the
	// server's).
	MaxElements int `json:"maxElements,omitempty"`
}

// ExplainResponse is the answer of POST /api/explain.
type ExplainResponse struct {
	Plan string `json:"plan"`
}

// query is one request's statement, parsed and with its options.
type query struct {
	src     string
	stmt    lang.Statement
	opts    exec.QueryOptions
	timeout time.Duration
}

// prepare checks a query request against the limits and the principal and
// parses its statement.
func (s *Server) prepare(r *http.Request, req *QueryRequest) (*query, error) {
	if strings.TrimSpace(req.Query) == "" {
		return nil, errorf(ClassBadRequest, `the request has no query: send {"query": "…"}`)
	}
	q := &query{src: req.Query, timeout: s.cfg.QueryTimeout}
	switch {
	case req.TimeoutMs < 0:
		return nil, errorf(ClassBadRequest, "timeoutMs must be positive")
	case req.TimeoutMs > s.cfg.QueryTimeout.Milliseconds():
		return nil, errorf(ClassBadRequest, fmt.Sprintf("timeoutMs %d is above this server's query timeout (%d ms)", req.TimeoutMs, s.cfg.QueryTimeout.Milliseconds()))
	case req.TimeoutMs > 0:
		q.timeout = time.Duration(req.TimeoutMs) * time.Millisecond
	}
	switch {
	case req.MaxElements < 0:
		return nil, errorf(ClassBadRequest, "maxElements must be at least 1")
	case req.MaxElements > s.cfg.MaxElements:
		return nil, errorf(ClassBadRequest, fmt.Sprintf("maxElements %d is above this server's element limit (%d)", req.MaxElements, s.cfg.MaxElements))
	}
	q.opts = exec.QueryOptions{Timeout: q.timeout, MaxElements: s.cfg.MaxElements}
	if req.MaxElements > 0 {
		q.opts.MaxElements = req.MaxElements
	}
	if p := PrincipalFrom(r.Context()); p != nil {
		q.opts.Scope = p.Scope
	}
	if req.At != "" {
		t, err := lang.ResolveTime(req.At, s.cfg.Now())
		if err != nil {
			return nil, atError("at", req.At, err)
		}
		q.opts.Now = t
	}
	stmt, err := s.stmts.parse(req.Query)
	if err != nil {
		return nil, err
	}
	q.stmt = stmt
	return q, nil
}

// atError reports a bad time as a bad request that says which field or
// parameter held it.
func atError(field, at string, err error) error {
	msg := err.Error()
	if errs := lang.Errors(err); errs != nil {
		msg = errs[0].Message
		if errs[0].Hint != "" {
			msg += " (" + errs[0].Hint + ")"
		}
	}
	return errorf(ClassBadRequest, fmt.Sprintf("%s %q: %s", field, at, msg))
}

// bufPool recycles response buffers: a query's answer is built whole
// before it is sent, so that a limit or timeout met while encoding is
// still an error response rather than a cut-off document.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// handleQuery serves POST /api/query.
func (s *Server) handleQuery(w http.ResponseWriter, r *http.Request) {
	var req QueryRequest
	if err := s.decodeQuery(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	q, err := s.prepare(r, &req)
	if err != nil {
		s.writeQueryError(w, r, req.Query, err)
		return
	}
	start := time.Now()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	// RunJSON's timeout covers encoding too; the answer is written from
	// the store's elements and the encode cache, without a Result.
	body, err := s.cfg.Engine.RunJSON(r.Context(), (*bp)[:0], q.stmt, q.opts,
		exec.EncodeOptions{MaxBytes: s.cfg.MaxResponseBytes, Cache: s.encoded})
	s.metrics.query(statementKind(q.stmt), err, time.Since(start))
	if err != nil {
		s.writeQueryError(w, r, req.Query, err)
		return
	}
	gatherWrites(r, body, func(b []byte) { writeBody(w, http.StatusOK, b) })
	if cap(body) <= 4<<20 { // keep small buffers, let big ones go
		*bp = body
	}
}

// handleExplain serves POST /api/explain: the plan drawn as text. For a
// scoped key the plan carries no estimates: they count components of the
// whole graph.
func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) {
	var req QueryRequest
	if err := s.decodeQuery(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	q, err := s.prepare(r, &req)
	if err != nil {
		s.writeQueryError(w, r, req.Query, err)
		return
	}
	start := time.Now()
	plan, err := s.cfg.Engine.ExplainWith(q.stmt, q.opts)
	s.metrics.query("explain", err, time.Since(start))
	if err != nil {
		s.writeQueryError(w, r, req.Query, err)
		return
	}
	writeJSON(w, http.StatusOK, ExplainResponse{Plan: plan})
}

// writeQueryError answers with a query's error, positioned in its source.
func (s *Server) writeQueryError(w http.ResponseWriter, r *http.Request, src string, err error) {
	s.writeError(w, r, ClassifyQuery(src, s.withOldest(err)))
}

// decodeBody reads a JSON request body into v: at most MaxBodyBytes
// (413 past it), JSON only, no unknown fields, one document.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	if err := jsonContent(r); err != nil {
		return err
	}
	return decodeDocument(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), v, s.cfg.MaxBodyBytes)
}

// jsonContent checks that a request's body is JSON, by its Content-Type.
func jsonContent(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" || ct == "application/json" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	// curl -d sends application/x-www-form-urlencoded: read it as
	// JSON too, so that the plainest curl command works.
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "application/x-www-form-urlencoded") {
		return errorf(ClassMediaType, fmt.Sprintf("the body must be JSON (Content-Type: application/json), not %q", ct))
	}
	return nil
}

// decodeDocument reads one JSON document with no unknown fields from body
// into v, and nothing after it.
func decodeDocument(body io.Reader, v any, limit int64) error {
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
			return bodyError(err, limit)
		}
		return errorf(ClassBadRequest, "the body holds more than one JSON document")
	}
	return nil
}

// bodyPool recycles request body buffers of decodeQuery.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1<<10); return &b }}

// decodeQuery reads the body of POST /api/query and /api/explain into req
// as decodeBody would, answering the same for every body, but reads the
// usual request (an object of the request's fields, a plain query string)
// without reflection: parseQueryRequest. A body it does not take goes to
// encoding/json, with the read error, if any, where the body stopped, so
// that every error is the one decodeBody gives.
func (s *Server) decodeQuery(w http.ResponseWriter, r *http.Request, req *QueryRequest) error {
	if err := jsonContent(r); err != nil {
		return err
	}
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	data, err := readAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes), (*bp)[:0])
	if cap(data) <= 64<<10 {
		*bp = data[:0]
	}
	if err == nil && parseQueryRequest(data, req) {
		return nil
	}
	*req = QueryRequest{}
	var body io.Reader = bytes.NewReader(data)
	if err != nil {
		body = io.MultiReader(body, errorReader{err})
	}
	return decodeDocument(body, req, s.cfg.MaxBodyBytes)
}

// readAll appends what r reads to dst until io.EOF (a nil error) or
// another error.
func readAll(r io.Reader, dst []byte) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return dst, err
		}
	}
}

// errorReader fails every read with its error.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return errorf(ClassTooLarge, fmt.Sprintf("the request body is larger than %d bytes, this server's limit", limit))
	case errors.Is(err, io.EOF):
		return errorf(ClassBadRequest, "the request body is empty; send a JSON object")
	case errors.As(err, &se):
		return errorf(ClassBadRequest, fmt.Sprintf("the body is not valid JSON: %v (at byte %d)", se, se.Offset))
	case errors.As(err, &te):
		return errorf(ClassBadRequest, fmt.Sprintf("field %q must be %s, not %s", te.Field, te.Type, te.Value))
	}
	return errorf(ClassBadRequest, "the body is not a valid request: "+strings.TrimPrefix(err.Error(), "json: "))
}

// statementKind names a statement for the query metrics.
func statementKind(stmt lang.Statement) string {
	switch st := stmt.(type) {
	case *lang.TopologyStmt:
		if st.Changes != nil {
			return "changes"
		}
		return "topology"
	case *lang.MetricsStmt:
		return "metrics"
	case *lang.EventsStmt:
		return "events"
	case *lang.TracesStmt:
		return "traces"
	}
	return "other"
}
