package exec

import (
	"encoding/json"
	"time"

	"github.com/tetrahq/tetra/graphstore"
)

// Result is the answer to one statement: exactly one of its parts is set.
type Result struct {
	Topology *TopologyResult `json:"topology,omitempty"`
	Changes  *ChangesResult  `json:"changes,omitempty"`
	Metrics  *MetricsResult  `json:"metrics,omitempty"`
	Events   *EventsResult   `json:"events,omitempty"`
	Traces   *TracesResult   `json:"traces,omitempty"`
}

// TopologyResult is the components a topology query selects and the
// relations among them.
type TopologyResult struct {
	// EvaluatedAt is the time the graph was read at.
	EvaluatedAt time.Time `json:"evaluatedAt"`
	// Truncated is always false: a query that would hold more than the
	// element limit fails instead of returning part of its answer.
	Truncated  bool        `json:"truncated"`
	Components []Component `json:"components"`
	Relations  []Relation  `json:"relations"`
}

// ChangesResult is what changed between two times among the components a
// query selects at either time, and among the relations between them.
type ChangesResult struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Truncated bool      `json:"truncated"`
	Added     Elements  `json:"added"`
	Removed   Elements  `json:"removed"`
	Changed   Changed   `json:"changed"`
}

// Elements is a set of components and relations.
type Elements struct {
	Components []Component `json:"components"`
	Relations  []Relation  `json:"relations"`
}

// Changed is the elements that exist at both times with different content.
type Changed struct {
	Components []ComponentChange `json:"components"`
	Relations  []RelationChange  `json:"relations"`
}

// ComponentChange is a component before and after, with the fields that
// differ.
type ComponentChange struct {
	Before Component `json:"before"`
	After  Component `json:"after"`
	Fields []string  `json:"fields"`
}

// RelationChange is a relation before and after, with the fields that
// differ.
type RelationChange struct {
	Before Relation `json:"before"`
	After  Relation `json:"after"`
	Fields []string `json:"fields"`
}

// Component is a component as results show it.
type Component struct {
	ID           uint64   `json:"id"`
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Layer        string   `json:"layer"`
	Domain       string   `json:"domain"`
	Environments []string `json:"environments"`
	Labels       []string `json:"labels"`
	Identifiers  []string `json:"identifiers"`
	// HealthState is the component's own state (STQL's healthstate);
	// PropagatedHealthState adds the DEVIATING or CRITICAL states of what
	// it depends on.
	HealthState           string                 `json:"healthState"`
	PropagatedHealthState string                 `json:"propagatedHealthState"`
	Properties            json.RawMessage        `json:"properties,omitempty"`
	Sources               []graphstore.SourceRef `json:"sources"`
	LastUpdateTimestamp   int64                  `json:"lastUpdateTimestamp"` // epoch milliseconds
}

// Relation is a relation as results show it.
type Relation struct {
	ID                  uint64                 `json:"id"`
	Type                string                 `json:"type"`
	Source              uint64                 `json:"source"`
	Target              uint64                 `json:"target"`
	DependencyDirection string                 `json:"dependencyDirection"`
	Labels              []string               `json:"labels"`
	Identifiers         []string               `json:"identifiers"`
	Properties          json.RawMessage        `json:"properties,omitempty"`
	Sources             []graphstore.SourceRef `json:"sources"`
	LastUpdateTimestamp int64                  `json:"lastUpdateTimestamp"`
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func componentOf(c *graphstore.Component) Component {
	var out Component
	fillComponent(&out, c)
	return out
}

// fillComponent sets the fields of a zero Component from c.
func fillComponent(out *Component, c *graphstore.Component) {
	out.ID, out.Name, out.Type, out.Layer, out.Domain = uint64(c.ID), c.Name, c.Type, c.Layer, c.Domain
	out.Environments, out.Labels, out.Identifiers = nonNil(c.Environments), nonNil(c.Labels), nonNil(c.Identifiers)
	out.HealthState, out.PropagatedHealthState = c.Health.String(), c.Propagated.String()
	out.Properties, out.Sources = c.Properties, c.Sources
	out.LastUpdateTimestamp = c.Updated / int64(time.Millisecond)
}

func relationOf(r *graphstore.Relation) Relation {
	return Relation{
		ID: uint64(r.ID), Type: r.Type, Source: uint64(r.Source), Target: uint64(r.Target),
		DependencyDirection: r.Dependency.String(), Labels: nonNil(r.Labels), Identifiers: nonNil(r.Identifiers),
		Properties: r.Properties, Sources: r.Sources, LastUpdateTimestamp: r.Updated / int64(time.Millisecond),
	}
}
