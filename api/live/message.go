package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
)

// Seq is a subscription's sequence number: the commit time (nanoseconds
// since 1970) of the last commit its answer reflects. It grows with every
// message of a subscription, is the same for every subscriber of a query,
// and stays meaningful across reconnects and server restarts, since the
// store keeps the history behind it: a client that presents one it was
// given resumes from there.
//
// In JSON it is a decimal string: nanoseconds since 1970 do not fit the
// integers a JavaScript number holds exactly.
type Seq int64

func (s Seq) String() string { return strconv.FormatInt(int64(s), 10) }

// MarshalJSON encodes the sequence number as a decimal string.
func (s Seq) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, s.String()), nil
}

// UnmarshalJSON accepts a decimal string or a JSON integer.
func (s *Seq) UnmarshalJSON(b []byte) error {
	str := string(b)
	if u, err := strconv.Unquote(str); err == nil {
		str = u
	}
	n, err := strconv.ParseInt(str, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("a sequence number is a decimal string of nanoseconds, as the server sent it; got %s", b)
	}
	*s = Seq(n)
	return nil
}

// MessageType names a server message.
type MessageType string

// Server message types.
const (
	// TypeResult carries the full answer: the first message of a
	// subscription, and the one that replaces the client's answer when it
	// cannot resume (Resync says why).
	TypeResult MessageType = "result"
	// TypeDiff carries what changed from the answer at From to the answer
	// at Seq.
	TypeDiff MessageType = "diff"
	// TypeError ends a subscription (or answers a request that could not
	// be read).
	TypeError MessageType = "error"
	// TypeUnsubscribed confirms an unsubscribe.
	TypeUnsubscribed MessageType = "unsubscribed"
	// TypePong answers a ping, after every message that was ready to send
	// when the ping was read: a client that gets its pong has got them.
	TypePong MessageType = "pong"
)

// Message is one message of a subscription. The values it points to are
// shared between the subscribers of a query and must not be modified.
type Message struct {
	Type MessageType
	Seq  Seq
	// From is the sequence number of the answer a diff applies to: the
	// client's answer before it.
	From Seq
	// Result is the full answer (TypeResult).
	Result *exec.TopologyResult
	// Final marks the last message of a subscription: a time-travel query
	// (AT a fixed time) gets one result and no diffs.
	Final bool
	// Resync says why a result replaces the answer a client asked to
	// resume from.
	Resync string
	// Diff is what changed (TypeDiff).
	Diff *Diff
	// Error is why the subscription ended (TypeError).
	Error *api.Error

	// body is the encoded part shared between subscribers, when there is
	// one: the answer's or the diff's fields.
	body *encoded
	// observed is when the commit behind a diff came off the feed.
	observed time.Time
}

// encoded is a JSON fragment encoded once, on first use, by whichever
// subscriber's writer needs it first.
type encoded struct {
	once sync.Once
	f    func() ([]byte, error)
	b    []byte
	err  error
}

func lazyJSON(f func() ([]byte, error)) *encoded { return &encoded{f: f} }

func (e *encoded) get() ([]byte, error) {
	e.once.Do(func() { e.b, e.err = e.f() })
	return e.b, e.err
}

// resultFields encodes the fields of a result message after the header:
// "result" is the document POST /api/query answers with, written by the
// one result encoder (exec.AppendJSON).
func resultFields(r *exec.TopologyResult) func() ([]byte, error) {
	return func() ([]byte, error) {
		b, err := exec.AppendJSON(context.Background(), []byte(`"result":`), &exec.Result{Topology: r}, exec.EncodeOptions{})
		return bytes.TrimSuffix(b, []byte("\n")), err
	}
}

// diffFields encodes the fields of a diff message after the header. Added
// elements have the result's JSON form (exec.Component's fields, HTML
// characters unescaped as the result encoder writes them).
func diffFields(d *Diff) func() ([]byte, error) {
	return func() ([]byte, error) {
		var b bytes.Buffer
		if err := writeJSON(&b, d); err != nil {
			return nil, err
		}
		// {"added":…} without its braces: the header holds the rest.
		return b.Bytes()[1 : b.Len()-1], nil
	}
}

// AppendJSON appends the message as a JSON object for the subscription
// named id:
//
//	{"type":"diff","id":"s1","from":"…","seq":"…","added":…,"removed":…,"changed":…}
//	{"type":"result","id":"s1","seq":"…","result":{…}}
//	{"type":"error","id":"s1","error":{"class":…,"message":…}}
func (m *Message) AppendJSON(dst []byte, id string) ([]byte, error) {
	b := bytes.NewBuffer(dst)
	b.WriteString(`{"type":`)
	writeJSON(b, m.Type)
	if id != "" {
		b.WriteString(`,"id":`)
		writeJSON(b, id)
	}
	if m.Type == TypeDiff {
		b.WriteString(`,"from":"` + m.From.String() + `"`)
	}
	if m.Type == TypeDiff || m.Type == TypeResult {
		b.WriteString(`,"seq":"` + m.Seq.String() + `"`)
	}
	if m.Final {
		b.WriteString(`,"final":true`)
	}
	if m.Resync != "" {
		b.WriteString(`,"resync":`)
		writeJSON(b, m.Resync)
	}
	if m.Error != nil {
		b.WriteString(`,"error":`)
		if err := writeJSON(b, m.Error); err != nil {
			return dst, err
		}
	}
	if err := m.appendBody(b); err != nil {
		return dst, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (m *Message) appendBody(b *bytes.Buffer) error {
	body := m.body
	switch {
	case body == nil && m.Result != nil:
		body = lazyJSON(resultFields(m.Result))
	case body == nil && m.Diff != nil:
		body = lazyJSON(diffFields(m.Diff))
	case body == nil:
		return nil
	}
	fields, err := body.get()
	if err != nil {
		return err
	}
	b.WriteByte(',')
	b.Write(fields)
	return nil
}

// writeJSON writes v as JSON without the newline json.Encoder adds and
// without escaping HTML characters, which a WebSocket client never renders
// as HTML.
func writeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1)
	return nil
}

func jsonUint(n uint64) string { return strconv.FormatUint(n, 10) }

// clientMessage is what a client sends.
//
//	{"type":"subscribe","id":"s1","query":"…","seq":"…"}   (seq only to resume)
//	{"type":"unsubscribe","id":"s1"}
//	{"type":"ping","id":"p1"}
type clientMessage struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Query string `json:"query"`
	Seq   *Seq   `json:"seq"`
}
