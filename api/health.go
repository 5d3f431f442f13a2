package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tetrahq/tetra/exec"
)

// handleComponentHealth serves GET /api/components/{idOrIdentifier}/health:
// a component's own and propagated health at ?topologyTime= (any TQL time;
// default now) with what they rest on, the check states bound to it and
// its degraded dependencies (exec.ComponentHealth). The key's scope
// applies to the component and to the dependencies listed; a component the
// key may not see is as unknown as one that does not exist (404).
func (s *Server) handleComponentHealth(w http.ResponseWriter, r *http.Request) {
	opts, err := s.readOptionsAt(r, "topologyTime")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if opts.Now.IsZero() {
		// One time for resolving the identifier and reading the health.
		opts.Now = s.cfg.Now()
	}
	ref := r.PathValue("idOrIdentifier")
	id, err := s.componentID(r.Context(), ref, opts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var h *exec.ComponentHealth
	if id != 0 {
		if h, err = s.cfg.Engine.Health(r.Context(), id, opts); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if h == nil {
		s.writeError(w, r, errorf(ClassNotFound, fmt.Sprintf("no component with id or identifier %q at %s", ref,
			opts.Now.UTC().Format("2006-01-02T15:04:05.000Z"))))
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// componentID resolves a component's id or identifier to its id at
// opts.Now, within opts.Scope: 0 when no component it may see holds it.
// A number is taken as an id as it is; Engine.Health checks that it exists.
func (s *Server) componentID(ctx context.Context, ref string, opts exec.QueryOptions) (uint64, error) {
	if n, err := strconv.ParseUint(ref, 10, 53); err == nil {
		return n, nil
	}
	res, err := s.cfg.Engine.RunWith(ctx, componentQuery(ref), opts)
	if err != nil || res.Topology.Components.Len() == 0 {
		return 0, err
	}
	return res.Topology.Components.ID(0), nil
}
