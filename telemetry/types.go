package telemetry

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Tag is one key/value pair of a series, an event or a span. A key may
// appear more than once with different values (StackState tags are a list).
type Tag struct {
	Key, Value string
}

// Tags is a list of tags in canonical order: sorted by key, then value,
// without duplicates. Use NewTags to build one.
type Tags []Tag

// NewTags sorts tags and drops exact duplicates; it reuses the slice.
func NewTags(tags []Tag) Tags {
	slices.SortFunc(tags, compareTag)
	return slices.Compact(tags)
}

func compareTag(a, b Tag) int {
	return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Value, b.Value))
}

// ParseTag splits a StackState tag "key:value" at its first colon; a tag
// without a colon is a key with an empty value. Spaces around key and value
// are dropped ("status: changed" is status=changed).
func ParseTag(s string) Tag {
	k, v, _ := strings.Cut(s, ":")
	return Tag{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v)}
}

// Get returns the values of key, in order.
func (ts Tags) Get(key string) []string {
	i, _ := slices.BinarySearchFunc(ts, key, func(t Tag, k string) int { return strings.Compare(t.Key, k) })
	var out []string
	for ; i < len(ts) && ts[i].Key == key; i++ {
		out = append(out, ts[i].Value)
	}
	return out
}

// First returns the first value of key and whether there is one.
func (ts Tags) First(key string) (string, bool) {
	i, _ := slices.BinarySearchFunc(ts, key, func(t Tag, k string) int { return strings.Compare(t.Key, k) })
	if i < len(ts) && ts[i].Key == key {
		return ts[i].Value, true
	}
	return "", false
}

// String prints tags as key=value pairs in order, for keys and messages.
func (ts Tags) String() string {
	var b strings.Builder
	for i, t := range ts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.Key)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(t.Value))
	}
	return b.String()
}

// MarshalJSON writes tags as an object; a key with several values becomes
// a list.
func (ts Tags) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(ts))
	for i := 0; i < len(ts); {
		j := i + 1
		for j < len(ts) && ts[j].Key == ts[i].Key {
			j++
		}
		if j-i == 1 {
			m[ts[i].Key] = ts[i].Value
		} else {
			vals := make([]string, 0, j-i)
			for _, t := range ts[i:j] {
				vals = append(vals, t.Value)
			}
			m[ts[i].Key] = vals
		}
		i = j
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads what MarshalJSON writes: an object of strings or
// lists of strings.
func (ts *Tags) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := make(Tags, 0, len(m))
	for k, raw := range m {
		var one string
		if err := json.Unmarshal(raw, &one); err == nil {
			out = append(out, Tag{Key: k, Value: one})
			continue
		}
		var many []string
		if err := json.Unmarshal(raw, &many); err != nil {
			return fmt.Errorf("telemetry: tag %q: want a string or a list of strings", k)
		}
		for _, v := range many {
			out = append(out, Tag{Key: k, Value: v})
		}
	}
	*ts = NewTags(out)
	return nil
}

// Sample is one value of a series at a time in epoch milliseconds.
type Sample struct {
	T int64
	V float64
}

// Series identifies one time series: a metric name and its tags. Two
// series are the same when name and tags are equal.
type Series struct {
	Name string
	Tags Tags
	// Identifiers are the component identifiers the series belongs to
	// (see Identifiers). They are derived from the tags when the series is
	// first written and are not part of its identity.
	Identifiers []string
}

// Key is the series' identity as one string: the name and the canonical
// tags, separated by bytes that cannot occur in UTF-8 text.
func (s *Series) Key() string {
	n := len(s.Name)
	for _, t := range s.Tags {
		n += len(t.Key) + len(t.Value) + 2
	}
	return string(s.AppendKey(make([]byte, 0, n)))
}

// AppendKey appends Key to dst: a writer looking a series up builds the
// key into a buffer it reuses. Tags must be canonical (see IsCanonical).
func (s *Series) AppendKey(dst []byte) []byte {
	dst = append(dst, s.Name...)
	for _, t := range s.Tags {
		dst = append(dst, 0xff)
		dst = append(dst, t.Key...)
		dst = append(dst, 0xfe)
		dst = append(dst, t.Value...)
	}
	return dst
}

// IsCanonical reports whether tags are sorted and without duplicates, as
// NewTags makes them.
func (t Tags) IsCanonical() bool {
	for i := 1; i < len(t); i++ {
		if compareTag(t[i-1], t[i]) >= 0 {
			return false
		}
	}
	return true
}

// SeriesSamples is samples of one series, in any order: the unit of
// appending.
type SeriesSamples struct {
	Series  Series
	Samples []Sample
}

// Point is one value of a result series: a bucket's aggregate or a raw
// sample. It encodes to JSON as [epochMs, value], with null for a value
// JSON cannot hold (NaN, ±Inf).
type Point struct {
	T int64
	V float64
}

func (p Point) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32)
	b = append(b, '[')
	b = strconv.AppendInt(b, p.T, 10)
	b = append(b, ',')
	if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendFloat(b, p.V, 'g', -1, 64)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads [epochMs, value], null as NaN.
func (p *Point) UnmarshalJSON(b []byte) error {
	var pair [2]*float64
	if err := json.Unmarshal(b, &pair); err != nil || pair[0] == nil {
		return fmt.Errorf("telemetry: a point is [epochMs, value], got %s", b)
	}
	p.T, p.V = int64(*pair[0]), math.NaN()
	if pair[1] != nil {
		p.V = *pair[1]
	}
	return nil
}

// Event is one event: something that happened at a time, tied to
// components by identifier.
type Event struct {
	// ID is the event's identity: writing an event with an ID that exists
	// at the same time replaces it. EventID derives one when the payload
	// gives none.
	ID          string
	Time        int64 // epoch milliseconds
	Name        string
	Category    string // Changes, Deployments, Alerts, Anomalies, Activities, Others
	Type        string
	Source      string
	Message     string
	Tags        Tags
	Identifiers []string
	// Data is the event's free-form context data, compact JSON (may be nil).
	Data json.RawMessage
	// Links are the source links: title and URL pairs.
	Links []Link
}

// Link is a source link of an event.
type Link struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Categories are the event categories, as written in results.
var Categories = []string{"Changes", "Deployments", "Alerts", "Anomalies", "Activities", "Others"}

// CanonicalCategory returns the category as results spell it, matching
// case-insensitively; an unknown or empty category is Others.
func CanonicalCategory(c string) string {
	for _, k := range Categories {
		if strings.EqualFold(k, c) {
			return k
		}
	}
	return "Others"
}
