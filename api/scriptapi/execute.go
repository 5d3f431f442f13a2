package scriptapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/scriptrt"
)

// ExecuteRequest is the body of POST /api/script/execute: StackState's
// ExecuteScriptRequest.
type ExecuteRequest struct {
	// Script is the JavaScript to run.
	Script string `json:"script"`
	// TimeoutMs bounds the run (default: the server's script timeout; at
	// most its maximum).
	TimeoutMs int64 `json:"timeoutMs,omitempty"`
	// ArgumentsScript runs first; the properties of the object it returns
	// become global variables of Script.
	ArgumentsScript string `json:"argumentsScript,omitempty"`
}

// handleExecute serves POST /api/script/execute: the script runs with the
// key's scope, and the answer is StackState's {"result": {_type, value}}
// or its typed error document.
func (h *handler) handleExecute(w http.ResponseWriter, r *http.Request) {
	var req ExecuteRequest
	if err := h.srv.DecodeJSON(w, r, &req); err != nil {
		h.srv.WriteError(w, r, err)
		return
	}
	timeout, err := h.timeout(req)
	if err != nil {
		h.srv.WriteError(w, r, err)
		return
	}
	release, err := h.acquire()
	if err != nil {
		h.srv.WriteError(w, r, err)
		return
	}
	defer release()
	p := api.PrincipalFrom(r.Context())
	res, err := h.cfg.Runtime.Run(r.Context(), scriptrt.Request{
		Script: req.Script, ArgumentsScript: req.ArgumentsScript, Timeout: timeout, Scope: p.Scope,
		Name: "script", Sink: h.cfg.Sink, Source: source(p),
	})
	if err != nil {
		h.writeScriptError(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, scriptrt.Response{Result: res})
}

// timeout checks a request's timeoutMs against the server's bounds.
func (h *handler) timeout(req ExecuteRequest) (time.Duration, error) {
	switch {
	case req.Script == "":
		return 0, api.Errorf(api.ClassBadRequest, `the request has no script: send {"script": "…"}`)
	case req.TimeoutMs < 0:
		return 0, api.Errorf(api.ClassBadRequest, "timeoutMs must be positive")
	case req.TimeoutMs > h.cfg.MaxTimeout.Milliseconds():
		return 0, api.Errorf(api.ClassBadRequest, "timeoutMs %d is above this server's script timeout limit (%d ms)",
			req.TimeoutMs, h.cfg.MaxTimeout.Milliseconds())
	case req.TimeoutMs > 0:
		return time.Duration(req.TimeoutMs) * time.Millisecond, nil
	}
	return h.cfg.Timeout, nil
}

// acquire takes one of the server's script slots, or refuses with 429: a
// script may hold a core for its whole timeout, so the server runs a
// bounded number at once whatever the keys' own limits.
func (h *handler) acquire() (func(), error) {
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	default:
		return nil, api.Errorf(api.ClassTooMany, "the server runs %d scripts at once, its limit; retry when one finishes", cap(h.slots))
	}
}

// writeScriptError answers with StackState's typed error document and the
// status its spec gives: 408 for a timeout, 400 for what the script did
// (syntax, exceptions, limits, a refused host), 500 or 503 when a query of
// the script met a store or internal error or the store did not keep its
// writes, 499 when the client left.
func (h *handler) writeScriptError(w http.ResponseWriter, r *http.Request, err error) {
	status := Status(err)
	h.srv.NoteError(r, statusError(status, err))
	api.WriteJSON(w, status, scriptrt.ErrorBody(err))
}

// Status is the HTTP status of an error of scriptrt.Runtime.Run.
func Status(err error) int {
	var (
		to   *scriptrt.TimeoutError
		ie   *scriptrt.InternalError
		se   *scriptrt.ScriptError
		args *scriptrt.ArgumentsError
		wr   *scriptrt.WriteError
	)
	switch {
	case errors.As(err, &args):
		return Status(args.Err)
	case errors.As(err, &to):
		return http.StatusRequestTimeout
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return api.ClassCanceled.Status()
	case errors.As(err, &ie):
		return http.StatusInternalServerError
	case errors.As(err, &wr):
		// The store did not keep what the script wrote.
		if errors.Is(wr.Err, graphstore.ErrClosed) {
			return http.StatusServiceUnavailable
		}
		return http.StatusInternalServerError
	case errors.As(err, &se) && se.Err != nil:
		// A query of the script that failed for the server's reasons
		// (damaged data, a closed store, a bug) is not the script's fault.
		switch {
		case errors.Is(se.Err, graphstore.ErrCorrupt), errors.As(se.Err, new(*exec.InternalError)):
			return http.StatusInternalServerError
		case errors.Is(se.Err, graphstore.ErrClosed):
			return http.StatusServiceUnavailable
		}
	}
	return http.StatusBadRequest
}

// statusError names an error's class for the request log.
func statusError(status int, err error) error {
	class := api.ClassQuery
	switch status {
	case http.StatusRequestTimeout:
		class = api.ClassTimeout
	case http.StatusInternalServerError:
		class = api.ClassInternal
	case http.StatusServiceUnavailable:
		class = api.ClassUnavailable
	case api.ClassCanceled.Status():
		class = api.ClassCanceled
	}
	return &api.Error{Class: class, Message: fmt.Sprint(err)}
}

// source names a request's writes after its key.
func source(p *api.Principal) string {
	if p == nil || p.KeyName == "" {
		return "api"
	}
	return "key:" + p.KeyName
}
