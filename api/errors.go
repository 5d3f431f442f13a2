package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/internal/usermsg"
	"github.com/tetrahq/tetra/lang"
)

// Class is the class of an error as the API reports it: every error a
// request can meet is one of these, and Classify is the one place that
// decides which.
type Class string

const (
	ClassQuery        Class = "query"        // a bad query: parse, check or plan error with a position
	ClassBadRequest   Class = "bad_request"  // a malformed request: JSON, a field, a parameter
	ClassLimit        Class = "limit"        // the element or response limit
	ClassTimeout      Class = "timeout"      // the query timeout
	ClassUnsupported  Class = "unsupported"  // a statement this build cannot run
	ClassNotFound     Class = "not_found"    // no such route or element
	ClassUnauthorized Class = "unauthorized" // no key, or an unknown one
	ClassForbidden    Class = "forbidden"    // a key whose role does not allow the route
	ClassTooLarge     Class = "too_large"    // a request body over the limit
	ClassTooMany      Class = "too_many"     // a per-key or server-wide concurrency limit
	ClassUnavailable  Class = "unavailable"  // shutting down, or the store is closed
	ClassCorrupt      Class = "corrupt"      // the store found damaged data
	ClassStore        Class = "store"        // another store error (I/O)
	ClassInternal     Class = "internal"     // a bug
	ClassCanceled     Class = "canceled"     // the client went away
	ClassMethod       Class = "method"       // a route asked with a method it does not have
	ClassRetention    Class = "retention"    // a time before the retention horizon
	ClassMediaType    Class = "media_type"   // a body that is not JSON
)

// Error is an error the API answers with: a class, a message and, for
// errors about a part of the query, its position. It is what
// {"error": {...}} holds.
type Error struct {
	Class   Class  `json:"class"`
	Message string `json:"message"`
	// Position of the first language error (1-based line and column in
	// characters, byte offset and length of the span), when there is one.
	Line   int    `json:"line,omitempty"`
	Col    int    `json:"col,omitempty"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	Hint   string `json:"hint,omitempty"`
	// More holds the further language errors of the query, if any.
	More []Position `json:"more,omitempty"`
	// Limit is the element or response limit a ClassLimit error hit
	// (elements for "elements", bytes for "bytes").
	Limit     int64  `json:"limit,omitempty"`
	LimitKind string `json:"limitKind,omitempty"`
	// TimeoutMs is the timeout a ClassTimeout error hit.
	TimeoutMs int64 `json:"timeoutMs,omitempty"`
	// Problems lists every problem of a rejected payload, each with the
	// JSON path of the field (a receiver's 400); ProblemsDropped counts
	// those found beyond the list.
	Problems        []Problem `json:"problems,omitempty"`
	ProblemsDropped int       `json:"problemsDropped,omitempty"`
	// RetryAfter is set on ClassTooMany and ClassUnavailable errors after
	// which the client should retry; WriteError sends it as Retry-After.
	RetryAfter time.Duration `json:"-"`
}

// Problem is one thing wrong with a payload: where (a JSON path such as
// topologies[0].components[3].externalId, empty for the whole body) and
// what.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Position is one positioned language error.
type Position struct {
	Message string `json:"message"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Offset  int    `json:"offset"`
	Length  int    `json:"length"`
	Hint    string `json:"hint,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error of a class.
func errorf(class Class, msg string) *Error { return &Error{Class: class, Message: msg} }

// Status returns the HTTP status of a class.
func (c Class) Status() int {
	switch c {
	case ClassQuery, ClassBadRequest, ClassRetention:
		return http.StatusBadRequest
	case ClassLimit:
		return http.StatusUnprocessableEntity
	case ClassTimeout:
		return http.StatusGatewayTimeout
	case ClassUnsupported:
		return http.StatusNotImplemented
	case ClassNotFound:
		return http.StatusNotFound
	case ClassUnauthorized:
		return http.StatusUnauthorized
	case ClassForbidden:
		return http.StatusForbidden
	case ClassTooLarge:
		return http.StatusRequestEntityTooLarge
	case ClassTooMany:
		return http.StatusTooManyRequests
	case ClassUnavailable:
		return http.StatusServiceUnavailable
	case ClassMethod:
		return http.StatusMethodNotAllowed
	case ClassMediaType:
		return http.StatusUnsupportedMediaType
	case ClassCanceled:
		return 499 // nginx's "client closed request": nobody reads it
	}
	return http.StatusInternalServerError
}

// WebSocket close codes (RFC 6455 section 7.4) for the classes. The
// standard codes where one fits; otherwise 4000 + the HTTP status, in the
// range RFC 6455 leaves to applications, so a client reads the same class
// from a close frame as from a response.
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	ClosePolicy        = 1008
	CloseTooBig        = 1009
	CloseInternal      = 1011
	CloseTryAgainLater = 1013
)

// CloseCode returns the WebSocket close code of a class (for api/live).
func (c Class) CloseCode() int {
	switch c {
	case ClassUnauthorized, ClassForbidden:
		return ClosePolicy
	case ClassTooLarge:
		return CloseTooBig
	case ClassUnavailable:
		return CloseGoingAway
	case ClassTooMany:
		return CloseTryAgainLater
	case ClassInternal, ClassStore, ClassCorrupt:
		return CloseInternal
	}
	return 4000 + c.Status()
}

// Classify turns any error into the API's *Error: the one place that maps
// the engine's, the language's and the store's error classes. Messages are
// what a user reads (usermsg: no package prefixes); the request log keeps
// the error as it was.
func Classify(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	if pos := lang.Errors(err); pos != nil {
		return positioned(ClassQuery, err, pos)
	}
	var le *exec.LimitError
	var re *exec.ResponseLimitError
	var te *exec.TimeoutError
	var ie *exec.InternalError
	switch {
	case errors.As(err, &le):
		return &Error{Class: ClassLimit, Message: usermsg.Message(err), Limit: int64(le.Limit), LimitKind: "elements"}
	case errors.As(err, &re):
		return &Error{Class: ClassLimit, Message: usermsg.Message(err), Limit: re.Limit, LimitKind: "bytes"}
	case errors.As(err, &te):
		return &Error{Class: ClassTimeout, Message: usermsg.Message(err), TimeoutMs: te.Timeout.Milliseconds()}
	case errors.Is(err, exec.ErrUnsupported):
		return errorf(ClassUnsupported, usermsg.Message(err))
	case errors.Is(err, graphstore.ErrBeforeRetention):
		return errorf(ClassRetention, usermsg.Message(err))
	case errors.Is(err, graphstore.ErrCorrupt):
		return errorf(ClassCorrupt, usermsg.Message(err))
	case errors.Is(err, graphstore.ErrClosed):
		return errorf(ClassUnavailable, usermsg.Message(err))
	case errors.Is(err, context.Canceled):
		return errorf(ClassCanceled, "the request was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(ClassTimeout, "the request ran out of time")
	case errors.As(err, &ie):
		return errorf(ClassInternal, usermsg.Message(err))
	}
	return errorf(ClassStore, usermsg.Message(err))
}

// positioned builds a query error from language errors, which the caller
// located in the query's source (lang.Locate).
func positioned(class Class, err error, errs []*lang.Error) *Error {
	first := errs[0]
	e := &Error{Class: class, Message: first.Message, Line: first.Line, Col: first.Col,
		Offset: first.Offset, Length: first.Span.End - first.Span.Start, Hint: first.Hint}
	for _, le := range errs[1:] {
		e.More = append(e.More, Position{Message: le.Message, Line: le.Line, Col: le.Col,
			Offset: le.Offset, Length: le.Span.End - le.Span.Start, Hint: le.Hint})
	}
	return e
}

// ClassifyQuery is Classify for an error of a query whose source is src:
// planner and engine errors about a part of the query get their position.
func ClassifyQuery(src string, err error) *Error {
	if errs := lang.Locate(src, err); errs != nil {
		return positioned(ClassQuery, err, errs)
	}
	return Classify(err)
}

// LangErrors turns a query error back into the language errors it was
// made of, so a client renders the caret block exactly as the engine's
// error would have been (nil when it has no position).
func (e *Error) LangErrors() lang.ErrorList {
	if e.Class != ClassQuery || e.Line == 0 {
		return nil
	}
	out := lang.ErrorList{langError(Position{e.Message, e.Line, e.Col, e.Offset, e.Length, e.Hint})}
	for _, p := range e.More {
		out = append(out, langError(p))
	}
	return out
}

func langError(p Position) *lang.Error {
	return &lang.Error{Span: lang.Span{Start: p.Offset, End: p.Offset + p.Length}, Line: p.Line, Col: p.Col,
		Offset: p.Offset, Message: p.Message, Hint: p.Hint}
}

// Unwrap gives errors.As and errors.Is the engine's typed error a class
// stands for, so a client's caller tests a server's error as it would an
// embedded engine's.
func (e *Error) Unwrap() error {
	switch e.Class {
	case ClassQuery:
		if l := e.LangErrors(); l != nil {
			return l
		}
	case ClassLimit:
		if e.LimitKind == "bytes" {
			return &exec.ResponseLimitError{Limit: e.Limit}
		}
		return &exec.LimitError{Limit: int(e.Limit)}
	case ClassTimeout:
		return &exec.TimeoutError{Timeout: time.Duration(e.TimeoutMs) * time.Millisecond}
	case ClassUnsupported:
		return exec.ErrUnsupported
	case ClassRetention:
		return graphstore.ErrBeforeRetention
	case ClassCorrupt:
		return graphstore.ErrCorrupt
	}
	return nil
}
