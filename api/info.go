package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
)

// StackStateAPIVersion is the version of StackState's API that Tetra's
// StackState routes implement.
const StackStateAPIVersion = "6.0.0"

// Info is the answer of GET /api/info: what the server holds and which
// versions it speaks. tetra info prints it.
type Info struct {
	Version InfoVersion `json:"version"`
	// Now is the server's clock.
	Now time.Time `json:"now"`
	// Store is the span of time the store can be queried over (absent
	// when the server has no store statistics).
	Store *InfoStore `json:"store,omitempty"`
	// Summary counts the components and relations now, and what each
	// source reports, in the caller's scope.
	Summary *exec.Summary `json:"summary"`
}

// InfoVersion names the versions of a server.
type InfoVersion struct {
	Tetra               string `json:"tetra"`
	ResultSchemaVersion int    `json:"resultSchemaVersion"`
	StackStateAPI       string `json:"stackStateApi"`
}

// InfoStore is the span of time a store holds.
type InfoStore struct {
	// HeldSince is the oldest time with data: the retention horizon when
	// the graph then held something, else the first commit after it.
	HeldSince *time.Time `json:"heldSince,omitempty"`
	// Horizon is the oldest time a query may ask for.
	Horizon *time.Time `json:"horizon,omitempty"`
	// LastCommit is the time of the latest change.
	LastCommit *time.Time `json:"lastCommit,omitempty"`
	// RetentionSeconds is how long history is kept.
	RetentionSeconds int64  `json:"retentionSeconds"`
	DiskBytes        uint64 `json:"diskBytes"`
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	opts, err := s.readOptions(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sum, err := s.cfg.Engine.Summary(r.Context(), opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v := s.cfg.Version
	if v == "" {
		v = "dev"
	}
	info := Info{Version: InfoVersion{Tetra: v, ResultSchemaVersion: exec.SchemaVersion, StackStateAPI: StackStateAPIVersion},
		Now: s.cfg.Now().UTC(), Summary: sum}
	if s.cfg.Store != nil {
		st := s.cfg.Store.Stats()
		info.Store = &InfoStore{HeldSince: utcPtr(st.HeldSince), Horizon: utcPtr(st.Horizon), LastCommit: utcPtr(st.LastCommit),
			RetentionSeconds: int64(st.Retention / time.Second), DiskBytes: st.DiskBytes}
	}
	writeJSON(w, http.StatusOK, info)
}

// utcPtr is a time for JSON: UTC, nil for the zero time (or the zero of
// Unix time, a horizon that was never moved).
func utcPtr(t time.Time) *time.Time {
	if t.IsZero() || t.UnixNano() == 0 {
		return nil
	}
	t = t.UTC()
	return &t
}

// withOldest names when the data begins in an error about a time before
// the retention horizon, when the store knows it: "no history before" the
// first commit, rather than before a horizon that lies before any data.
func (s *Server) withOldest(err error) error {
	var bre *graphstore.BeforeRetentionError
	if s.cfg.Store == nil || !errors.As(err, &bre) || !bre.Oldest.IsZero() {
		return err
	}
	c := *bre
	c.Oldest = s.cfg.Store.Stats().HeldSince
	return &c
}

// readOptions are the options of a read that GET parameters ask for: the
// server's limits, the caller's scope, and ?at= (any TQL time).
func (s *Server) readOptions(r *http.Request) (exec.QueryOptions, error) {
	return s.readOptionsAt(r, "at")
}

// readOptionsAt is readOptions with the time in the parameter param (the
// routes under /api/components take StackState's topologyTime).
func (s *Server) readOptionsAt(r *http.Request, param string) (exec.QueryOptions, error) {
	opts := exec.QueryOptions{Timeout: s.cfg.QueryTimeout, MaxElements: s.cfg.MaxElements}
	if p := PrincipalFrom(r.Context()); p != nil {
		opts.Scope = p.Scope
	}
	if at := r.URL.Query().Get(param); at != "" {
		t, err := lang.ResolveTime(at, s.cfg.Now())
		if err != nil {
			return opts, atError(param, at, err)
		}
		opts.Now = t
	}
	return opts, nil
}
