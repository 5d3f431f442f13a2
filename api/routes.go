package api

import (
	_ "embed"
	"net/http"
	"slices"
	"strings"
)

// openapiJSON is the API's OpenAPI 3 document, kept in the repository as
// openapi.json and checked against the routes by a test.
//
//go:embed openapi.json
var openapiJSON []byte

// routesOwn mounts the routes this package serves.
func (s *Server) routesOwn() {
	s.HandleFunc("GET /healthz", RolePublic, s.handleHealthz)
	s.HandleFunc("GET /readyz", RolePublic, s.handleReadyz)
	s.HandleFunc("GET /api/openapi.json", RolePublic, func(w http.ResponseWriter, r *http.Request) { writeBody(w, http.StatusOK, openapiJSON) })
	s.Handle("GET /metrics", RoleRead, s.metrics.handler())
	s.HandleFunc("POST /api/query", RoleRead, s.handleQuery)
	s.HandleFunc("POST /api/explain", RoleRead, s.handleExplain)
	s.HandleFunc("GET /api/server/info", RoleRead, s.handleServerInfo)
	s.HandleFunc("POST /api/snapshot", RoleRead, s.handleSnapshot)
	s.HandleFunc("GET /api/components/{idOrIdentifier}", RoleRead, s.handleComponent)
	s.HandleFunc("GET /api/components/{idOrIdentifier}/health", RoleRead, s.handleComponentHealth)
	s.HandleFunc("GET /api/topic", RoleRead, s.handleTopics)
	s.HandleFunc("GET /api/whoami", RoleRead, s.handleWhoami)
	s.HandleFunc("GET /api/values", RoleRead, s.handleValues)
	s.HandleFunc("GET /api/vocabulary", RoleRead, s.handleVocabulary)
	s.HandleFunc("GET /api/timeline", RoleRead, s.handleTimeline)
	s.HandleFunc("GET /api/info", RoleRead, s.handleInfo)
}

// handleHealthz answers 200 while the process serves HTTP at all.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

// Readiness is the answer of /readyz.
type Readiness struct {
	Status string `json:"status"` // ready, draining, corrupt or unavailable
	Error  string `json:"error,omitempty"`
}

// readiness returns nil when the server is ready to serve queries.
func (s *Server) readiness() *Readiness {
	switch {
	case s.draining.Load():
		return &Readiness{Status: "draining"}
	case s.corrupt.Load() != nil:
		return &Readiness{Status: "corrupt", Error: "the store found damaged data: " + *s.corrupt.Load() +
			"; restore the data directory from a backup"}
	}
	if s.cfg.Store != nil {
		if err := s.cfg.Store.Check(); err != nil {
			if Classify(err).Class == ClassCorrupt {
				return &Readiness{Status: "corrupt", Error: err.Error()}
			}
			return &Readiness{Status: "unavailable", Error: err.Error()}
		}
	}
	return nil
}

// handleReadyz answers 200 once the store is open and serving, and 503
// while draining or after the store reported damaged data.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if rd := s.readiness(); rd != nil {
		writeJSON(w, http.StatusServiceUnavailable, rd)
		return
	}
	writeJSON(w, http.StatusOK, Readiness{Status: "ready"})
}

// Whoami is the answer of GET /api/whoami: the caller's key as the server
// sees it.
type Whoami struct {
	KeyID            string `json:"keyId,omitempty"`
	Name             string `json:"name,omitempty"`
	Role             string `json:"role"`
	Scope            string `json:"scope,omitempty"`
	MaxConcurrent    int    `json:"maxConcurrent"`
	MaxSubscriptions int    `json:"maxSubscriptions"`
	KeyChecks        bool   `json:"keyChecks"`
}

func (s *Server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	p := PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, Whoami{KeyID: p.KeyID, Name: p.KeyName, Role: p.Role.String(), Scope: p.ScopeText,
		MaxConcurrent: p.MaxConcurrent, MaxSubscriptions: p.MaxSubscriptions, KeyChecks: s.keyCount() > 0})
}

// notFound answers a request no route matched: 405 with Allow when the
// path exists with other methods, else 404. It is mounted at "/" unless
// a component (the web view) takes "/".
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, rt := range s.routes {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if ok && pathMatches(path, r.URL.Path) && method != r.Method {
			allow = append(allow, method)
		}
	}
	if len(allow) > 0 {
		slices.Sort(allow)
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, errorf(ClassMethod, r.Method+" is not allowed on "+r.URL.Path+"; use "+strings.Join(allow, " or ")))
		return
	}
	s.writeError(w, r, errorf(ClassNotFound, "no route "+r.URL.Path+" (GET /api/openapi.json lists the routes)"))
}

// pathMatches reports whether a request path matches a pattern's path,
// where {name} matches one segment.
func pathMatches(pattern, path string) bool {
	ps, qs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(ps) != len(qs) {
		return false
	}
	for i := range ps {
		if !strings.HasPrefix(ps[i], "{") && ps[i] != qs[i] {
			return false
		}
	}
	return true
}
