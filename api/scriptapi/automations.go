package scriptapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/scriptrt/automation"
)

// The automation routes, role script (admin too): automations are stored
// scripts, so managing them is running scripts. An automation runs with
// the scope of the key that applied it; a scoped key sees and manages only
// automations applied with its own scope.

// AutomationList is the answer of GET /api/automations.
type AutomationList struct {
	Automations []automation.Status `json:"automations"`
}

// RunList is the answer of GET /api/automations/{name}/runs.
type RunList struct {
	Runs []*automation.Run `json:"runs"`
}

// RunRequest is the optional body of POST /api/automations/{name}/run.
type RunRequest struct {
	// Event is bound as the script's event variable (for trying a handler).
	Event json.RawMessage `json:"event,omitempty"`
}

// DeleteResponse is the answer of DELETE /api/automations/{name}.
type DeleteResponse struct {
	Deleted string `json:"deleted"`
}

func (h *handler) mountAutomations() {
	h.srv.HandleFunc("GET /api/automations", api.RoleScript, h.listAutomations)
	h.srv.HandleFunc("POST /api/automations", api.RoleScript, h.applyAutomation)
	h.srv.HandleFunc("GET /api/automations/{name}", api.RoleScript, h.getAutomation)
	h.srv.HandleFunc("DELETE /api/automations/{name}", api.RoleScript, h.deleteAutomation)
	h.srv.HandleFunc("POST /api/automations/{name}/run", api.RoleScript, h.runAutomation)
	h.srv.HandleFunc("GET /api/automations/{name}/runs", api.RoleScript, h.automationRuns)
}

func scopeOf(r *http.Request) string { return api.PrincipalFrom(r.Context()).ScopeText }

func (h *handler) listAutomations(w http.ResponseWriter, r *http.Request) {
	list := h.cfg.Automations.List(scopeOf(r))
	if list == nil {
		list = []automation.Status{}
	}
	api.WriteJSON(w, http.StatusOK, AutomationList{Automations: list})
}

// applyAutomation creates or replaces an automation; it answers with its
// status.
func (h *handler) applyAutomation(w http.ResponseWriter, r *http.Request) {
	var d automation.Definition
	if err := h.srv.DecodeJSON(w, r, &d); err != nil {
		h.srv.WriteError(w, r, err)
		return
	}
	p := api.PrincipalFrom(r.Context())
	if old := h.cfg.Automations.Get(d.Name, ""); old != nil && !automation.Visible(old.Definition, p.ScopeText) {
		h.srv.WriteError(w, r, api.Errorf(api.ClassForbidden, "automation %q was applied by a key of another scope; this key cannot replace it", d.Name))
		return
	}
	// Who applied it and with which scope is the server's to say.
	d.Owner, d.Scope = owner(p), p.ScopeText
	if _, err := h.cfg.Automations.Apply(&d); err != nil {
		h.srv.WriteError(w, r, api.Errorf(api.ClassBadRequest, "%v", err))
		return
	}
	api.WriteJSON(w, http.StatusOK, h.cfg.Automations.Get(d.Name, p.ScopeText))
}

func owner(p *api.Principal) string {
	if p.KeyName == "" {
		return "local"
	}
	return "key:" + p.KeyName
}

// named returns the automation a route names, or answers 404.
func (h *handler) named(w http.ResponseWriter, r *http.Request) *automation.Status {
	name := r.PathValue("name")
	st := h.cfg.Automations.Get(name, scopeOf(r))
	if st == nil {
		h.srv.WriteError(w, r, api.Errorf(api.ClassNotFound, "%v", &automation.NotFoundError{Name: name}))
	}
	return st
}

func (h *handler) getAutomation(w http.ResponseWriter, r *http.Request) {
	if st := h.named(w, r); st != nil {
		api.WriteJSON(w, http.StatusOK, st)
	}
}

func (h *handler) deleteAutomation(w http.ResponseWriter, r *http.Request) {
	st := h.named(w, r)
	if st == nil {
		return
	}
	if _, err := h.cfg.Automations.Delete(st.Name); err != nil {
		h.srv.WriteError(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, DeleteResponse{Deleted: st.Name})
}

// runAutomation runs an automation now and answers with the run's record
// (a failed run is a 200 with outcome "error": the request worked).
func (h *handler) runAutomation(w http.ResponseWriter, r *http.Request) {
	st := h.named(w, r)
	if st == nil {
		return
	}
	var req RunRequest
	if r.ContentLength != 0 {
		if err := h.srv.DecodeJSON(w, r, &req); err != nil {
			h.srv.WriteError(w, r, err)
			return
		}
	}
	run, err := h.cfg.Automations.RunNow(r.Context(), st.Name, req.Event)
	if err != nil {
		h.srv.WriteError(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, run)
}

func (h *handler) automationRuns(w http.ResponseWriter, r *http.Request) {
	st := h.named(w, r)
	if st == nil {
		return
	}
	limit := automation.DefaultKeepRuns
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			h.srv.WriteError(w, r, api.Errorf(api.ClassBadRequest, "limit %q must be a whole number of at least 1", s))
			return
		}
		limit = n
	}
	runs, err := h.cfg.Automations.Runs(st.Name, limit)
	if err != nil {
		h.srv.WriteError(w, r, err)
		return
	}
	if runs == nil {
		runs = []*automation.Run{}
	}
	api.WriteJSON(w, http.StatusOK, RunList{Runs: runs})
}
