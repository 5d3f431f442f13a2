package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tetrahq/tetra/lang"
)

// The routes of this file help a client write queries and pick times:
// what the web view's query bar completes and its time slider spans.

// maxValues bounds the values one GET /api/values answers.
const maxValues = 1000

// Values is the answer of GET /api/values.
type Values struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
	// Counts holds, with counts=true, how many components carry each
	// value (in the key's scope), in the order of Values: what tetra
	// values lists.
	Counts []int `json:"counts,omitempty"`
	// More is true when the limit stopped the listing.
	More bool `json:"more"`
}

// handleValues serves GET /api/values?key=K&prefix=P&limit=N&at=T&counts=true:
// the values of a topology key that components carry (in the key's scope),
// for completion and listings. Keys that compare case-insensitively list
// lower case.
func (s *Server) handleValues(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := lang.Words().KeyAliases[strings.ToLower(q.Get("key"))]
	if key == "" {
		s.writeError(w, r, errorf(ClassBadRequest, "key "+strconv.Quote(q.Get("key"))+" is not a topology key; one of "+strings.Join(lang.Words().TopologyKeys, ", ")))
		return
	}
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxValues {
			s.writeError(w, r, errorf(ClassBadRequest, "limit must be a number from 1 to "+strconv.Itoa(maxValues)))
			return
		}
		limit = n
	}
	opts, err := s.readOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// One more than asked tells whether there are more.
	vals, err := s.cfg.Engine.ValueCounts(r.Context(), key, q.Get("prefix"), limit+1, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := Values{Key: key, Values: []string{}, More: len(vals) > limit}
	counts := q.Get("counts") == "true"
	for _, v := range vals[:min(len(vals), limit)] {
		out.Values = append(out.Values, v.Value)
		if counts {
			out.Counts = append(out.Counts, v.Components)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// Vocabulary is the answer of GET /api/vocabulary: the words of TQL a
// client completes, from lang.Words (the tables the checker uses).
type Vocabulary struct {
	Statements     []string            `json:"statements"`
	Keywords       []string            `json:"keywords"`
	TopologyKeys   []string            `json:"topologyKeys"`
	KeyAliases     map[string]string   `json:"keyAliases"`
	Functions      []string            `json:"functions"`
	Arguments      []string            `json:"arguments"`
	ArgumentValues map[string][]string `json:"argumentValues"`
	HealthStates   []string            `json:"healthStates"`
}

func (s *Server) handleVocabulary(w http.ResponseWriter, r *http.Request) {
	v := lang.Words()
	writeJSON(w, http.StatusOK, Vocabulary{Statements: v.Statements, Keywords: v.Keywords, TopologyKeys: v.TopologyKeys,
		KeyAliases: v.KeyAliases, Functions: v.Functions, Arguments: v.Arguments, ArgumentValues: v.ArgumentValues,
		HealthStates: v.HealthStates})
}

// Timeline is the answer of GET /api/timeline: the span of time a query
// can be run AT.
type Timeline struct {
	// Horizon is the oldest time the store keeps history for (absent when
	// it keeps all of it).
	Horizon *time.Time `json:"horizon,omitempty"`
	// LastCommit is the time of the latest change (absent for an empty
	// store).
	LastCommit *time.Time `json:"lastCommit,omitempty"`
	// Now is the server's clock.
	Now time.Time `json:"now"`
}

func (s *Server) handleTimeline(w http.ResponseWriter, r *http.Request) {
	tl := Timeline{Now: s.cfg.Now().UTC()}
	if s.cfg.Store != nil {
		st := s.cfg.Store.Stats()
		tl.Horizon, tl.LastCommit = timePtr(st.Horizon), timePtr(st.LastCommit)
	}
	writeJSON(w, http.StatusOK, tl)
}

// timePtr returns nil for a time that is not set: the zero time, or the
// start of 1970, which is a store's horizon before it first compacted.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() || t.UnixNano() <= 0 {
		return nil
	}
	t = t.UTC()
	return &t
}

// WebSocketKeyProtocol prefixes the WebSocket subprotocol that carries an
// API key ("tetra.key.<key>"): a browser cannot set headers on a
// WebSocket, but it can offer subprotocols, so the web view offers its key
// as one beside the protocol it speaks. The server reads the key from it
// and never selects it (the upgrader selects the real protocol), so the
// key is not echoed back. Keys are made of [A-Za-z0-9_], which a
// subprotocol token allows.
const WebSocketKeyProtocol = "tetra.key."

// webSocketKey returns the key a WebSocket handshake offers as a
// subprotocol, or "".
func webSocketKey(r *http.Request) string {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return ""
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(h, ",") {
			if k, ok := strings.CutPrefix(strings.TrimSpace(p), WebSocketKeyProtocol); ok {
				return k
			}
		}
	}
	return ""
}

// pageRoute reports whether a pattern serves pages rather than API: the
// web view's routes, which openapi.json does not describe. They are
// public GETs outside /api/, and HandlePage enforces that.
func pageRoute(pattern string) bool {
	method, path, _ := strings.Cut(pattern, " ")
	return method == http.MethodGet && !strings.HasPrefix(path, "/api/") && !slices.Contains(operational, path)
}

// operational are the paths of the server's own operational routes,
// which openapi.json documents although they are outside /api/.
var operational = []string{"/healthz", "/readyz", "/metrics"}
