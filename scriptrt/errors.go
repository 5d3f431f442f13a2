package scriptrt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/lang"
)

// Error classes. Every error Run returns is one of:
//
//   - *SyntaxError: the script (or its arguments script) does not parse;
//   - *TimeoutError: the run took longer than its timeout;
//   - *LimitError: the run went over one of the sandbox's limits (memory,
//     result size, call depth, string or array size, elements loaded);
//   - *ScriptError: the script threw, or a script API failed and the script
//     did not catch it; it wraps the API's Go error (an exec error, a
//     *lang.Error of a query string, a *SecurityError of Http), which
//     errors.As finds;
//   - *ArgumentsError: the arguments script failed (it wraps one of the
//     above);
//   - *WriteError: the run succeeded but its Sink failed to keep what it
//     wrote (Health.set, Events.emit, a monitor's states);
//   - context.Canceled or context.DeadlineExceeded: the caller's context
//     ended the run;
//   - *InternalError: a bug.
//
// ErrorBody turns each into StackState's typed error document; the server
// maps the classes to status codes in one place.

// SyntaxError says the script does not parse. StackState reports the same
// as ExecuteScriptSyntaxErrors.
type SyntaxError struct {
	Errors []Problem
}

// Problem is one syntax error with its 1-based line and column.
type Problem struct {
	Message string `json:"message"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
}

func (e *SyntaxError) Error() string {
	if len(e.Errors) == 0 {
		return "scriptrt: syntax error"
	}
	p := e.Errors[0]
	msg := fmt.Sprintf("scriptrt: syntax error at %d:%d: %s", p.Line, p.Column, p.Message)
	if n := len(e.Errors) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// TimeoutError says a script ran longer than its timeout.
type TimeoutError struct {
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("scriptrt: the script ran longer than %s (the script timeout) and was stopped", e.Timeout)
}

// Limit names one limit of the sandbox.
type Limit string

const (
	LimitMemory     Limit = "memory"         // heap growth during the run (bytes)
	LimitResultSize Limit = "result size"    // the serialised result (bytes)
	LimitCallDepth  Limit = "call depth"     // nested function calls
	LimitNesting    Limit = "nesting"        // depth of nested arrays and objects a built-in or the result walks
	LimitString     Limit = "string length"  // characters of one string a built-in would make
	LimitArray      Limit = "array length"   // elements of one array a built-in would walk or make
	LimitElements   Limit = "elements"       // components all queries of one run load together
	LimitCalls      Limit = "API calls"      // queries and HTTP requests of one run
	LimitHTTPBody   Limit = "HTTP body size" // bytes of one HTTP request or response body
	LimitWrites     Limit = "writes"         // health states and events one run writes
)

// LimitError says a run went over a limit of the sandbox. The run is
// stopped (an uncatchable interrupt for memory, a thrown error the script
// may catch for the others, which it usually does not).
type LimitError struct {
	Limit  Limit
	Max    int64  // the limit's value, in the limit's unit
	Detail string // what went over it
}

func (e *LimitError) Error() string {
	msg := fmt.Sprintf("scriptrt: the script went over the %s limit (%d)", e.Limit, e.Max)
	if e.Limit == LimitMemory {
		msg = fmt.Sprintf("scriptrt: the script went over the memory limit (%d MiB of heap growth) and was stopped", e.Max>>20)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// SecurityError says a script tried something the sandbox forbids: an HTTP
// request to a host that is not on the allow-list (directly or through a
// redirect). StackState reports the same as ExecuteScriptSecurityError.
type SecurityError struct {
	Msg string
}

func (e *SecurityError) Error() string { return "scriptrt: " + e.Msg }

// ScriptError is an exception that left the script: thrown by the script
// or by a script API whose Go error the script did not catch. Line and
// Column (1-based) are the position in the script where it was thrown or
// where the failing API call was made.
type ScriptError struct {
	Message string // the exception's message (for an API error, the Go error's text)
	Name    string // the exception's name: Error, TypeError, QueryError, HttpError, …
	Line    int
	Column  int
	Stack   string // the script's call stack at the throw, one frame a line
	// Query is the TQL text an API call ran, when the error is about it
	// (lang.Render(Query, err) draws the caret).
	Query string
	Err   error // the API's Go error, or nil for an exception the script made
}

func (e *ScriptError) Error() string {
	name := e.Name
	if name == "" {
		name = "Error"
	}
	if e.Line > 0 {
		return fmt.Sprintf("scriptrt: %d:%d: %s: %s", e.Line, e.Column, name, e.Message)
	}
	return fmt.Sprintf("scriptrt: %s: %s", name, e.Message)
}

func (e *ScriptError) Unwrap() error { return e.Err }

// ArgumentsError says the arguments script of a request failed.
type ArgumentsError struct {
	Err error
}

func (e *ArgumentsError) Error() string {
	return "scriptrt: the arguments script failed: " + e.Err.Error()
}

func (e *ArgumentsError) Unwrap() error { return e.Err }

// WriteError says the Sink failed to keep a run's writes: the store's
// fault, not the script's. It wraps the sink's error.
type WriteError struct {
	What string // "health states" or "events"
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("scriptrt: writing the run's %s: %v", e.What, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// InternalError is a bug: a state the runtime should never reach.
type InternalError struct{ Msg string }

func (e *InternalError) Error() string { return "scriptrt: internal error: " + e.Msg }

// ErrorDoc is StackState's typed error document of the script API
// (ExecuteScriptError in spec/script.api.yaml): _type says which, and the
// other fields belong to that type.
type ErrorDoc struct {
	Type       string         `json:"_type"`
	Message    string         `json:"message"`
	Errors     []SyntaxDocErr `json:"errors,omitempty"`      // ExecuteScriptSyntaxErrors
	Location   *Location      `json:"location,omitempty"`    // ExecuteScriptExceptionError (a Tetra addition)
	Reason     string         `json:"reason,omitempty"`      // ExecuteScriptExecutionError
	TimeoutMs  int64          `json:"timeoutMs,omitempty"`   // ExecuteScriptTimeoutError
	Nested     *ErrorDoc      `json:"error,omitempty"`       // ExecuteScriptArgumentsScriptError
	Name       string         `json:"name,omitempty"`        // the exception's name (ExecuteScriptExceptionError; a Tetra addition)
	Query      string         `json:"query,omitempty"`       // the TQL an API call ran, when the error is about it (a Tetra addition)
	QueryError []QueryProblem `json:"queryErrors,omitempty"` // positioned errors in Query (a Tetra addition)
	Limit      string         `json:"limit,omitempty"`       // the limit a LimitError names (a Tetra addition)
	Max        int64          `json:"max,omitempty"`         // that limit's value
}

// QueryProblem is one positioned error in the query an API call ran: the
// fields lang.Render needs to draw the caret (1-based line and column in
// characters, byte offset and length of the span).
type QueryProblem struct {
	Message string `json:"message"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Offset  int    `json:"offset"`
	Length  int    `json:"length"`
	Hint    string `json:"hint,omitempty"`
}

// Error makes a document received from a server an error: its message.
func (d *ErrorDoc) Error() string { return d.Message }

// Unwrap turns a document received from a server back into the typed
// error it was made from, so that errors.As finds *SyntaxError,
// *TimeoutError, *ScriptError (with its Query and the lang errors in it),
// … as for a run in this process; ErrorBody of a document is the document.
func (d *ErrorDoc) Unwrap() error {
	switch d.Type {
	case TypeSyntaxErrors:
		e := &SyntaxError{}
		for _, p := range d.Errors {
			e.Errors = append(e.Errors, Problem{Message: p.Message, Line: p.Location.Line, Column: p.Location.Column})
		}
		return e
	case TypeTimeoutError:
		return &TimeoutError{Timeout: time.Duration(d.TimeoutMs) * time.Millisecond}
	case TypeSecurityError:
		return &SecurityError{Msg: strings.TrimPrefix(d.Message, "scriptrt: ")}
	case TypeArgumentsError:
		if d.Nested != nil {
			return &ArgumentsError{Err: d.Nested}
		}
	case TypeExceptionError, TypeExecutionError:
		if d.Limit != "" {
			return &LimitError{Limit: Limit(d.Limit), Max: d.Max}
		}
		if d.Type == TypeExceptionError || d.Query != "" {
			return d.scriptError()
		}
	}
	return nil
}

// scriptError rebuilds a ScriptError from its document.
func (d *ErrorDoc) scriptError() *ScriptError {
	se := &ScriptError{Message: d.Message, Name: d.Name, Query: d.Query}
	if d.Location != nil {
		se.Line, se.Column = d.Location.Line, d.Location.Column
	}
	if len(d.QueryError) > 0 {
		l := make(lang.ErrorList, len(d.QueryError))
		for i, p := range d.QueryError {
			l[i] = &lang.Error{Span: lang.Span{Start: p.Offset, End: p.Offset + p.Length}, Line: p.Line, Col: p.Col,
				Offset: p.Offset, Message: p.Message, Hint: p.Hint}
		}
		se.Err = l
	}
	return se
}

// SyntaxDocErr is one entry of ExecuteScriptSyntaxErrors.
type SyntaxDocErr struct {
	Message  string   `json:"message"`
	Location Location `json:"location"`
}

// Location is StackState's ScriptLocation.
type Location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// The _type names of StackState's script errors.
const (
	TypeSyntaxErrors   = "ExecuteScriptSyntaxErrors"
	TypeExecutionError = "ExecuteScriptExecutionError"
	TypeSecurityError  = "ExecuteScriptSecurityError"
	TypeExceptionError = "ExecuteScriptExceptionError"
	TypeTimeoutError   = "ExecuteScriptTimeoutError"
	TypeArgumentsError = "ExecuteScriptArgumentsScriptError"
)

// ErrorBody returns StackState's typed error document for an error of Run.
// A timeout is ExecuteScriptTimeoutError (StackState answers it with 408), a
// syntax error ExecuteScriptSyntaxErrors, a refused HTTP host
// ExecuteScriptSecurityError, a limit or cancellation
// ExecuteScriptExecutionError with the reason, anything the script threw
// ExecuteScriptExceptionError.
func ErrorBody(err error) *ErrorDoc {
	var (
		syn  *SyntaxError
		to   *TimeoutError
		lim  *LimitError
		sec  *SecurityError
		se   *ScriptError
		args *ArgumentsError
		qlim *exec.LimitError
		qto  *exec.TimeoutError
		wr   *WriteError
	)
	var doc *ErrorDoc
	switch {
	case errors.As(err, &doc):
		return doc
	case errors.As(err, &args):
		return &ErrorDoc{Type: TypeArgumentsError, Message: err.Error(), Nested: ErrorBody(args.Err)}
	case errors.As(err, &syn):
		d := &ErrorDoc{Type: TypeSyntaxErrors, Message: err.Error()}
		for _, p := range syn.Errors {
			d.Errors = append(d.Errors, SyntaxDocErr{Message: p.Message, Location: Location{p.Line, p.Column}})
		}
		return d
	case errors.As(err, &to):
		return &ErrorDoc{Type: TypeTimeoutError, Message: err.Error(), TimeoutMs: to.Timeout.Milliseconds()}
	case errors.As(err, &lim):
		return &ErrorDoc{Type: TypeExecutionError, Message: err.Error(), Reason: "limit: " + string(lim.Limit), Limit: string(lim.Limit), Max: lim.Max}
	case errors.As(err, &sec):
		return &ErrorDoc{Type: TypeSecurityError, Message: err.Error()}
	case errors.As(err, &se):
		d := &ErrorDoc{Type: TypeExceptionError, Message: err.Error(), Name: se.Name, Query: se.Query}
		if se.Line > 0 {
			d.Location = &Location{se.Line, se.Column}
		}
		if se.Query != "" {
			d.QueryError = queryProblems(lang.Locate(se.Query, se.Err))
		}
		switch {
		case errors.As(err, &qlim):
			d.Type, d.Reason = TypeExecutionError, "limit: query elements"
		case errors.As(err, &qto):
			d.Type, d.Reason = TypeExecutionError, "limit: query timeout"
		}
		return d
	case errors.As(err, &wr):
		return &ErrorDoc{Type: TypeExecutionError, Message: err.Error(), Reason: "write"}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &ErrorDoc{Type: TypeExecutionError, Message: err.Error(), Reason: "canceled"}
	}
	return &ErrorDoc{Type: TypeExecutionError, Message: err.Error(), Reason: "internal"}
}

func queryProblems(errs []*lang.Error) []QueryProblem {
	out := make([]QueryProblem, 0, len(errs))
	for _, e := range errs {
		out = append(out, QueryProblem{Message: e.Message, Line: e.Line, Col: e.Col, Offset: e.Offset,
			Length: e.Span.End - e.Span.Start, Hint: e.Hint})
	}
	return out
}
