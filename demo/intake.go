package demo

import (
	"encoding/json"
	"time"
)

// The StackState Agent intake payload (POST /stsAgent/intake), as the Go
// agent serialises it (docs/ingest-formats.md §1): every part present,
// empty when unused.

// Intake is one intake payload.
type Intake struct {
	InternalHostname string             `json:"internalHostname"`
	Topologies       []Topology         `json:"topologies"`
	Health           []HealthStream     `json:"health"`
	Metrics          []Metric           `json:"metrics"`
	Events           map[string][]Event `json:"events"`
}

type instance struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Topology is one instance's topology, here always a whole snapshot.
type Topology struct {
	StartSnapshot bool        `json:"start_snapshot"`
	StopSnapshot  bool        `json:"stop_snapshot"`
	Instance      instance    `json:"instance"`
	Components    []Component `json:"components"`
	Relations     []Relation  `json:"relations"`
	DeleteIDs     []string    `json:"delete_ids"`
}

type typeName struct {
	Name string `json:"name"`
}

// Component is a topology component; Data holds the keys ingest
// interprets (name, layer, domain, environment, identifiers, labels,
// tags) and whatever else the source says.
type Component struct {
	ExternalID string         `json:"externalId"`
	Type       typeName       `json:"type"`
	Data       map[string]any `json:"data"`
}

// Relation is a topology relation.
type Relation struct {
	ExternalID string         `json:"externalId"`
	Type       typeName       `json:"type"`
	SourceID   string         `json:"sourceId"`
	TargetID   string         `json:"targetId"`
	Data       map[string]any `json:"data"`
}

// HealthStream is one health stream's snapshot of check states
// (REPEAT_SNAPSHOTS: each snapshot replaces the stream's check states).
type HealthStream struct {
	ConsistencyModel string         `json:"consistency_model"`
	Stream           streamID       `json:"stream"`
	StartSnapshot    *snapshotStart `json:"start_snapshot,omitempty"`
	StopSnapshot     *struct{}      `json:"stop_snapshot,omitempty"`
	CheckStates      []CheckState   `json:"check_states"`
}

type streamID struct {
	URN string `json:"urn"`
}

type snapshotStart struct {
	RepeatIntervalS int `json:"repeat_interval_s"`
	ExpiryIntervalS int `json:"expiry_interval_s,omitempty"`
}

// CheckState is one check's verdict about one component.
type CheckState struct {
	CheckStateID              string `json:"checkStateId"`
	Name                      string `json:"name"`
	Health                    string `json:"health"`
	TopologyElementIdentifier string `json:"topologyElementIdentifier"`
	Message                   string `json:"message,omitempty"`
}

// Metric is one raw metric sample: on the wire the 4-element list
// [name, epoch seconds, value, {hostname, type, tags}].
type Metric struct {
	Name     string
	Time     time.Time
	Value    float64
	Hostname string
	Tags     []string
}

// MarshalJSON writes the agent's 4-element form.
func (m Metric) MarshalJSON() ([]byte, error) {
	meta := struct {
		Hostname string   `json:"hostname,omitempty"`
		Type     string   `json:"type"`
		Tags     []string `json:"tags,omitempty"`
	}{m.Hostname, "gauge", m.Tags}
	// Whole seconds, as the agent sends; fractions are accepted too, but
	// milliseconds keep samples of a fast demo apart.
	ts := float64(m.Time.UnixMilli()) / 1000
	return json.Marshal([]any{m.Name, ts, round(m.Value, 3), meta})
}

// Event is one topology event (it has a context, so it is bound to the
// elements it names).
type Event struct {
	Context        EventContext `json:"context"`
	EventType      string       `json:"event_type"`
	MsgTitle       string       `json:"msg_title"`
	MsgText        string       `json:"msg_text"`
	SourceTypeName string       `json:"source_type_name"`
	Tags           []string     `json:"tags"`
	Timestamp      float64      `json:"timestamp"`
}

// EventContext binds an event to topology.
type EventContext struct {
	Category           string         `json:"category"` // Activities, Alerts, Anomalies, Changes, Others
	Data               map[string]any `json:"data"`
	ElementIdentifiers []string       `json:"element_identifiers"`
	Source             string         `json:"source"`
	SourceIdentifier   string         `json:"source_identifier,omitempty"`
	SourceLinks        []sourceLink   `json:"source_links"`
}

type sourceLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// newIntake returns an empty payload from the agent on host.
func newIntake(host string) *Intake {
	return &Intake{InternalHostname: host, Topologies: []Topology{}, Health: []HealthStream{},
		Metrics: []Metric{}, Events: map[string][]Event{}}
}

// Empty reports whether the payload carries nothing.
func (in *Intake) Empty() bool {
	return len(in.Topologies) == 0 && len(in.Health) == 0 && len(in.Metrics) == 0 && len(in.Events) == 0
}

// addEvent files an event under its source type, as the Go agent groups
// them.
func (in *Intake) addEvent(e Event) {
	in.Events[e.SourceTypeName] = append(in.Events[e.SourceTypeName], e)
}
