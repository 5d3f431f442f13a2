package live

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/lang"
)

// Errors of the hub. Test with errors.Is. Errors a client sees are the
// API's (*api.Error, classes and all): api.ClassifyQuery is the one place
// that maps the engine's, the language's and the store's errors.
var (
	// ErrClosed is returned once the hub is closed.
	ErrClosed error = &api.Error{Class: api.ClassUnavailable,
		Message: "live: the server is shutting down; reconnect and resume with your last seq"}
	// ErrEnded is returned by Next after a subscription's last message.
	ErrEnded = errors.New("live: subscription ended")
)

// badRequest is a client message the protocol does not allow.
func badRequest(format string, args ...any) error {
	return &api.Error{Class: api.ClassBadRequest, Message: fmt.Sprintf(format, args...)}
}

// tooMany is a subscription over a limit of the connection or the key.
func tooMany(format string, args ...any) error {
	return &api.Error{Class: api.ClassTooMany, Message: fmt.Sprintf(format, args...)}
}

// notLiveError is a statement that parses but cannot be followed live. It
// points at the part of the query that is the reason, so the client gets
// a positioned query error.
type notLiveError struct {
	span lang.Span
	msg  string
}

func (e *notLiveError) Error() string         { return "live: " + e.msg }
func (e *notLiveError) SourceSpan() lang.Span { return e.span }
func (e *notLiveError) SourceMessage() string { return e.msg }

// errorOf describes err for a client; src is the query the error may point
// into ("" when it is about none).
func errorOf(src string, err error) *api.Error { return api.ClassifyQuery(src, err) }

// writeHTTPError answers a request that never became a WebSocket
// connection, in the API's error shape.
func writeHTTPError(w http.ResponseWriter, e *api.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Class.Status())
	json.NewEncoder(w).Encode(struct {
		Error *api.Error `json:"error"`
	}{e})
}
