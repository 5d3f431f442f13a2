package live

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
)

// Errors of the hub. Test with errors.Is.
var (
	// ErrClosed is returned once the hub is closed.
	ErrClosed = errors.New("live: the server is shutting down")
	// ErrEnded is returned by Next after a subscription's last message.
	ErrEnded = errors.New("live: subscription ended")
)

// ErrorBody is an error as the API shows it, the same fields for REST and
// WebSocket: the class, the message, and for an error about part of the
// query its position (1-based line and column in characters, byte offset
// and length) and a hint.
type ErrorBody struct {
	Class   string `json:"class"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Offset  *int   `json:"offset,omitempty"`
	Length  *int   `json:"length,omitempty"`
	Hint    string `json:"hint,omitempty"`
}

// Error classes. Until the server's one mapping lands, this file is the
// only place that names them; its classify is what the merge replaces.
const (
	ClassBadQuery    = "bad_query"      // the query does not parse, check or plan (HTTP 400)
	ClassBadRequest  = "bad_request"    // a message the protocol does not allow (HTTP 400)
	ClassLimit       = "limit_exceeded" // a limit of the server or the key (HTTP 422)
	ClassTimeout     = "timeout"        // the query ran longer than allowed (HTTP 504)
	ClassUnsupported = "unsupported"    // a statement that cannot be run or followed (HTTP 501)
	ClassUnavailable = "unavailable"    // the server is shutting down (HTTP 503)
	ClassInternal    = "internal"       // a bug or a store failure (HTTP 500)
)

// LimitError is a subscription refused by a limit.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return "live: " + e.Msg }

// RequestError is a client message the protocol does not allow.
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return "live: " + e.Msg }

func badRequest(format string, args ...any) error {
	return &RequestError{Msg: fmt.Sprintf(format, args...)}
}

// notLiveError is a statement that parses but cannot be followed live. It
// points at the part of the query that is the reason.
type notLiveError struct {
	span lang.Span
	msg  string
}

func (e *notLiveError) Error() string         { return "live: " + e.msg }
func (e *notLiveError) SourceSpan() lang.Span { return e.span }
func (e *notLiveError) SourceMessage() string { return e.msg }

// classify maps an error to its class and HTTP status. The server's
// mapping (package api) replaces this function when both land.
func classify(err error) (class string, status int) {
	var limit *exec.LimitError
	var liveLimit *LimitError
	var timeout *exec.TimeoutError
	var req *RequestError
	var notLive *notLiveError
	switch {
	case errors.As(err, &notLive), errors.Is(err, exec.ErrUnsupported):
		return ClassUnsupported, http.StatusNotImplemented
	case lang.Errors(err) != nil:
		return ClassBadQuery, http.StatusBadRequest
	case errors.As(err, &req):
		return ClassBadRequest, http.StatusBadRequest
	case errors.As(err, &limit), errors.As(err, &liveLimit):
		return ClassLimit, http.StatusUnprocessableEntity
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return ClassTimeout, http.StatusGatewayTimeout
	case errors.Is(err, ErrClosed), errors.Is(err, graphstore.ErrClosed):
		return ClassUnavailable, http.StatusServiceUnavailable
	case errors.Is(err, graphstore.ErrBeforeRetention):
		return ClassBadQuery, http.StatusBadRequest
	}
	var sp lang.Spanned
	if errors.As(err, &sp) {
		return ClassBadQuery, http.StatusBadRequest
	}
	return ClassInternal, http.StatusInternalServerError
}

// errorBody describes err for a client; src is the query text the error's
// position refers to ("" when there is none).
func errorBody(src string, err error) *ErrorBody {
	class, _ := classify(err)
	b := &ErrorBody{Class: class, Message: err.Error()}
	if errs := lang.Locate(src, err); len(errs) > 0 && src != "" {
		e := errs[0]
		off, n := e.Offset, e.Span.End-e.Span.Start
		b.Message, b.Hint = e.Message, e.Hint
		b.Line, b.Col, b.Offset, b.Length = e.Line, e.Col, &off, &n
	}
	return b
}
