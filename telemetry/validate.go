package telemetry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Limits on what the stores accept. Decoders check them too, so that an
// error names the field's JSON path.
const (
	MaxNameBytes    = 1024            // a metric name, an event name, a span name
	MaxTagBytes     = 4096            // a tag key, an identifier
	MaxValueBytes   = 64 << 10        // a tag value (span attributes carry stack traces)
	MaxTags         = 256             // tags (or attributes) of one record
	MaxMessageBytes = 64 << 10        // an event message, an event's data
	MaxTime         = 253402300799999 // 9999-12-31T23:59:59.999Z in epoch ms
)

// CheckString reports a string over a limit or not valid UTF-8.
func CheckString(what, s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%w: %s is %d bytes long; the limit is %d", ErrInvalid, what, len(s), limit)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	return nil
}

// CheckTime reports a time (epoch ms) outside 1970 … 9999.
func CheckTime(what string, t int64) error {
	if t < 0 || t > MaxTime {
		return fmt.Errorf("%w: %s %d is outside the years 1970 to 9999 (epoch milliseconds)", ErrInvalid, what, t)
	}
	return nil
}

// CheckTags checks a record's tags against the limits.
func CheckTags(tags Tags) error {
	if len(tags) > MaxTags {
		return fmt.Errorf("%w: %d tags; the limit is %d", ErrInvalid, len(tags), MaxTags)
	}
	for _, t := range tags {
		if t.Key == "" {
			return fmt.Errorf("%w: a tag has an empty key", ErrInvalid)
		}
		if err := CheckString("tag key", t.Key, MaxTagBytes); err != nil {
			return err
		}
		// The quoted key only for the error: this runs for every series
		// of every append.
		if len(t.Value) > MaxValueBytes || !utf8.ValidString(t.Value) {
			return CheckString("tag "+strconv.Quote(t.Key), t.Value, MaxValueBytes)
		}
	}
	return nil
}

// CheckIdentifiers checks identifiers against the limits.
func CheckIdentifiers(ids []string) error {
	if len(ids) > MaxTags {
		return fmt.Errorf("%w: %d identifiers; the limit is %d", ErrInvalid, len(ids), MaxTags)
	}
	for _, id := range ids {
		if err := CheckString("identifier", id, MaxTagBytes); err != nil {
			return err
		}
	}
	return nil
}

// CheckSeries checks a series and its samples.
func CheckSeries(s *SeriesSamples) error {
	if s.Series.Name == "" {
		return fmt.Errorf("%w: a series has no metric name", ErrInvalid)
	}
	if err := CheckString("metric name", s.Series.Name, MaxNameBytes); err != nil {
		return err
	}
	if err := CheckTags(s.Series.Tags); err != nil {
		return err
	}
	if err := CheckIdentifiers(s.Series.Identifiers); err != nil {
		return err
	}
	for _, x := range s.Samples {
		if err := CheckTime("sample time", x.T); err != nil {
			return err
		}
	}
	return nil
}

// CheckEvent checks an event.
func CheckEvent(e *Event) error {
	if e.ID == "" {
		return fmt.Errorf("%w: an event has no id", ErrInvalid)
	}
	if err := CheckTime("event time", e.Time); err != nil {
		return err
	}
	for _, f := range []struct {
		what, s string
		limit   int
	}{
		{"event id", e.ID, MaxTagBytes}, {"event name", e.Name, MaxNameBytes}, {"event type", e.Type, MaxNameBytes},
		{"event source", e.Source, MaxNameBytes}, {"event category", e.Category, MaxNameBytes},
		{"event message", e.Message, MaxMessageBytes}, {"event data", string(e.Data), MaxMessageBytes},
	} {
		if err := CheckString(f.what, f.s, f.limit); err != nil {
			return err
		}
	}
	if err := CheckTags(e.Tags); err != nil {
		return err
	}
	return CheckIdentifiers(e.Identifiers)
}

// EventID derives an event's identity from its content, for payloads that
// give none: the same event sent twice is stored once.
func EventID(e *Event) string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	field(strconv.FormatInt(e.Time, 10))
	field(e.Name)
	field(e.Category)
	field(e.Type)
	field(e.Source)
	field(e.Message)
	for _, t := range e.Tags {
		field(t.Key)
		field(t.Value)
	}
	for _, id := range e.Identifiers {
		field(id)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
