package api

import (
	"fmt"
	"net/http"
)

// The helpers below are for components mounted with Handle (scripts,
// automations, MCP): they read bodies and write answers exactly as the
// server's own routes do, so every route keeps one error shape and one
// status per class.

// DecodeJSON reads a JSON request body into v as the server's own routes
// do: at most MaxBodyBytes (413 past it), JSON only, no unknown fields,
// one document. The error is an *Error to pass to WriteError.
func (s *Server) DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeBody(w, r, v)
}

// WriteError answers with {"error": {...}} and the status of the error's
// class (Classify), logging the class with the request.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

// Authenticate finds the principal of a request as the server's routes
// do (its key, the role it needs), for components that take requests on
// another transport (the OTLP/gRPC receiver builds an *http.Request of its
// call's metadata). The error is an *Error of class unauthorized or
// forbidden.
func (s *Server) Authenticate(r *http.Request, need Role) (*Principal, error) {
	return s.authenticate(r, need)
}

// NoteError records an error the handler answered in a shape of its own
// (StackState's typed documents), so that the request's log line and
// metrics name its class as they do for WriteError.
func (s *Server) NoteError(r *http.Request, err error) {
	if info := requestInfoFrom(r.Context()); info != nil {
		info.err = Classify(err)
	}
}

// WriteJSON answers with v as JSON (HTML characters not escaped) and a
// status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// Errorf returns an *Error of a class with a formatted message.
func Errorf(class Class, format string, args ...any) *Error {
	return errorf(class, fmt.Sprintf(format, args...))
}
