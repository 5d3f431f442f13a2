package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/exec"
	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/lang"
)

// This file serves StackState's own REST shapes (from StackState's OpenAPI
// specification, spec/server_info, snapshot, components and topic) so that
// StackState's CLI and scripts work against Tetra. docs/api.md lists what
// is implemented and how Tetra's data maps onto the shapes.

// ServerInfo is StackState's ServerInfo.
type ServerInfo struct {
	Version            ServerVersion `json:"version"`
	DeploymentMode     string        `json:"deploymentMode"`
	PlatformVersion    string        `json:"platformVersion,omitempty"`
	ApplicationDomains []string      `json:"applicationDomains"`
}

// ServerVersion is StackState's ServerVersion. Tetra reports the
// StackState API version it implements (6.0.0) and its own version in
// commit and platformVersion.
type ServerVersion struct {
	Major  int    `json:"major"`
	Minor  int    `json:"minor"`
	Patch  int    `json:"patch"`
	Diff   string `json:"diff"`
	Commit string `json:"commit"`
	IsDev  bool   `json:"isDev"`
}

func (s *Server) handleServerInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.serverInfo())
}

func (s *Server) serverInfo() ServerInfo {
	v := s.cfg.Version
	if v == "" {
		v = "dev"
	}
	return ServerInfo{
		// StackStateAPIVersion, 6.0.0.
		Version:        ServerVersion{Major: 6, Minor: 0, Patch: 0, Diff: "", Commit: "tetra-" + v, IsDev: v == "dev"},
		DeploymentMode: "SelfHosted", PlatformVersion: "0.0.0+tetra." + v, ApplicationDomains: []string{"Observability"},
	}
}

// Topic is StackState's Topic. Tetra has no topics yet: the list is empty.
type Topic struct {
	Name string `json:"name"`
}

func (s *Server) handleTopics(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []Topic{})
}

// ViewSnapshotRequest is StackState's request of POST /api/snapshot.
type ViewSnapshotRequest struct {
	Type         string        `json:"_type"`
	Query        string        `json:"query"`
	QueryVersion string        `json:"queryVersion"`
	Metadata     QueryMetadata `json:"metadata"`
	ViewID       *int64        `json:"viewId,omitempty"`
}

// QueryMetadata is the part of StackState's QueryMetadata Tetra reads: the
// time. Grouping options are accepted and ignored (Tetra does not group).
type QueryMetadata struct {
	QueryTime *int64 `json:"queryTime"`
}

// handleSnapshot serves POST /api/snapshot: an STQL query answered as
// StackState's QuerySnapshotResult with a ViewSnapshot, or its typed
// errors (QueryParsingFailure, ViewSnapshotFetchTimeout,
// ViewSnapshotTopologySizeOverflow, ViewSnapshotDataUnavailable,
// ErrorsResponse).
func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	var req ViewSnapshotRequest
	if err := s.decodeLenient(w, r, &req); err != nil {
		s.writeStackStateError(w, r, err)
		return
	}
	if req.Type != "" && req.Type != "ViewSnapshotRequest" {
		s.writeStackStateError(w, r, errorf(ClassBadRequest, fmt.Sprintf(`_type is %q; want "ViewSnapshotRequest"`, req.Type)))
		return
	}
	qr := QueryRequest{Query: req.Query}
	if req.Metadata.QueryTime != nil {
		qr.At = strconv.FormatInt(*req.Metadata.QueryTime, 10)
	}
	timeout, err := snapshotTimeout(r)
	if err != nil {
		s.writeStackStateError(w, r, err)
		return
	}
	qr.TimeoutMs = min(timeout.Milliseconds(), s.cfg.QueryTimeout.Milliseconds())
	q, err := s.prepare(r, &qr)
	if err == nil {
		if ts, ok := q.stmt.(*lang.TopologyStmt); !ok || ts.Changes != nil {
			err = errorf(ClassQuery, "the snapshot API runs a topology query (STQL); use POST /api/query for other statements")
		}
	}
	if err != nil {
		s.writeStackStateError(w, r, ClassifyQuery(req.Query, err))
		return
	}
	start := time.Now()
	res, err := s.cfg.Engine.RunWith(r.Context(), q.stmt, q.opts)
	s.metrics.query("snapshot", err, time.Since(start))
	if err != nil {
		s.writeStackStateError(w, r, ClassifyQuery(req.Query, err))
		return
	}
	out := struct {
		Type     string        `json:"_type"`
		Response *viewSnapshot `json:"viewSnapshotResponse"`
		ViewID   *int64        `json:"viewId,omitempty"`
	}{"QuerySnapshotResult", viewSnapshotOf(res.Topology), req.ViewID}
	writeJSON(w, http.StatusOK, out)
}

// snapshotTimeout reads StackState's timeout parameters: timeoutSeconds or
// timeout-ms (both appear in StackState's specifications).
func snapshotTimeout(r *http.Request) (time.Duration, error) {
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		unit time.Duration
	}{{"timeoutSeconds", time.Second}, {"timeout-ms", time.Millisecond}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 || n > int64(time.Hour/p.unit) {
				return 0, errorf(ClassBadRequest, fmt.Sprintf("%s must be a positive whole number, not %q", p.name, v))
			}
			return time.Duration(n) * p.unit, nil
		}
	}
	return 1 << 62, nil
}

// writeStackStateError answers as StackState does: a QueryParsingFailure
// (400) for a bad query or request; on the snapshot route, a typed
// snapshot response (200) for a timeout, a size overflow or data before
// retention; an ErrorsResponse with the class's status otherwise.
func (s *Server) writeStackStateError(w http.ResponseWriter, r *http.Request, err error) {
	e := Classify(err)
	if info := requestInfoFrom(r.Context()); info != nil {
		info.err = e
	}
	var typed any
	snapshot := r.Pattern == "POST /api/snapshot"
	switch {
	case e.Class == ClassQuery || e.Class == ClassBadRequest || (!snapshot && e.Class == ClassRetention):
		msg := e.Message
		if e.Line > 0 {
			msg = fmt.Sprintf("%d:%d: %s", e.Line, e.Col, e.Message)
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"_type": "QueryParsingFailure", "reason": msg})
		return
	case !snapshot:
	case e.Class == ClassTimeout:
		typed = map[string]any{"_type": "ViewSnapshotFetchTimeout", "usedTimeoutSeconds": max(1, e.TimeoutMs/1000)}
	case e.Class == ClassLimit:
		typed = map[string]any{"_type": "ViewSnapshotTopologySizeOverflow", "maxSize": e.Limit}
	case e.Class == ClassRetention:
		typed = dataUnavailable(err)
	}
	if typed != nil {
		writeJSON(w, http.StatusOK, map[string]any{"_type": "QuerySnapshotResult", "viewSnapshotResponse": typed})
		return
	}
	if e.Class == ClassCorrupt {
		msg := e.Message
		s.corrupt.CompareAndSwap(nil, &msg)
	}
	writeJSON(w, e.Class.Status(), genericErrors(r, e.Message))
}

func dataUnavailable(err error) map[string]any {
	out := map[string]any{"_type": "ViewSnapshotDataUnavailable", "unavailableAtEpochMs": int64(0), "availableSinceEpochMs": int64(0)}
	var be *graphstore.BeforeRetentionError
	if errors.As(err, &be) {
		out["unavailableAtEpochMs"], out["availableSinceEpochMs"] = be.At.UnixMilli(), be.Horizon.UnixMilli()
	}
	return out
}

// genericErrors is StackState's GenericErrorsResponse.
func genericErrors(r *http.Request, msg string) any {
	return map[string]any{
		"_type": "ErrorsResponse", "trackingKey": RequestID(r.Context()), "serverTimestamp": time.Now().UnixMilli(),
		"errors": []map[string]string{{"_type": "InternalError", "message": msg}},
	}
}

// decodeLenient reads a JSON body within the size limit, ignoring fields
// it does not know (StackState clients send many Tetra does not use).
func (s *Server) decodeLenient(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return bodyError(err, s.cfg.MaxBodyBytes)
	}
	return nil
}

// viewSnapshot is StackState's ViewSnapshot. Tetra does not group, so
// groups and groupRelations are empty, and it computes no indirect
// relations or problems yet.
type viewSnapshot struct {
	Type              string       `json:"_type"`
	Components        []viewComp   `json:"components"`
	Relations         []viewRel    `json:"relations"`
	IndirectRelations []any        `json:"indirectRelations"`
	Groups            []any        `json:"groups"`
	GroupRelations    []any        `json:"groupRelations"`
	Problems          []any        `json:"problems"`
	Metadata          viewSnapMeta `json:"metadata"`
}

type viewSnapMeta struct {
	Type             string  `json:"_type"`
	Layers           []named `json:"layers"`
	Domains          []named `json:"domains"`
	Environments     []named `json:"environments"`
	GroupedByLayers  bool    `json:"groupedByLayers"`
	GroupedByDomains bool    `json:"groupedByDomains"`
}

// named is StackState's Layer, Domain or Environment: Tetra keeps them as
// names; the id is a stable hash of the name.
type named struct {
	Type  string `json:"_type"`
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Order *int   `json:"order,omitempty"`
}

type elementState struct {
	Type       string `json:"_type"`
	ID         uint64 `json:"id"`
	Health     string `json:"healthState"`
	Propagated string `json:"propagatedHealthState"`
}

type runState struct {
	Type     string `json:"_type"`
	ID       uint64 `json:"id"`
	RunState string `json:"runState"`
}

type viewComp struct {
	Type                string            `json:"_type"`
	Visible             bool              `json:"visible"`
	ID                  uint64            `json:"id"`
	LastUpdateTimestamp int64             `json:"lastUpdateTimestamp"`
	Name                string            `json:"name"`
	ComponentType       int64             `json:"type"`
	Layer               int64             `json:"layer"`
	Domain              int64             `json:"domain"`
	Environments        []int64           `json:"environments"`
	State               elementState      `json:"state"`
	RunState            runState          `json:"runState"`
	OutgoingRelations   []uint64          `json:"outgoingRelations"`
	IncomingRelations   []uint64          `json:"incomingRelations"`
	Synchronized        bool              `json:"synchronized"`
	FailingChecks       []any             `json:"failingChecks"`
	Identifiers         []string          `json:"identifiers"`
	Tags                []string          `json:"tags"`
	Properties          map[string]string `json:"properties"`
}

type viewRel struct {
	Type                string       `json:"_type"`
	Visible             bool         `json:"visible"`
	ID                  uint64       `json:"id"`
	LastUpdateTimestamp int64        `json:"lastUpdateTimestamp"`
	Name                string       `json:"name"`
	RelationType        int64        `json:"type"`
	Source              uint64       `json:"source"`
	Target              uint64       `json:"target"`
	DependencyDirection string       `json:"dependencyDirection"`
	Synchronized        bool         `json:"synchronized"`
	FailingChecks       []any        `json:"failingChecks"`
	State               elementState `json:"state"`
	Identifiers         []string     `json:"identifiers"`
}

// nodeID gives a name of a kind (layer, domain, …) a stable id that fits
// JavaScript's safe integers, as StackState ids do.
func nodeID(kind, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int64(h.Sum64() >> 11)
}

func viewSnapshotOf(t *exec.TopologyResult) *viewSnapshot {
	vs := &viewSnapshot{Type: "ViewSnapshot", Components: make([]viewComp, 0, t.Components.Len()), Relations: make([]viewRel, 0, t.Relations.Len()),
		IndirectRelations: []any{}, Groups: []any{}, GroupRelations: []any{}, Problems: []any{},
		Metadata: viewSnapMeta{Type: "ViewSnapshotMetadata", Layers: []named{}, Domains: []named{}, Environments: []named{}}}
	out, in := map[uint64][]uint64{}, map[uint64][]uint64{}
	for _, r := range t.Relations.All() {
		out[r.Source] = append(out[r.Source], r.ID)
		in[r.Target] = append(in[r.Target], r.ID)
		vs.Relations = append(vs.Relations, viewRel{Type: "ViewRelation", Visible: true, ID: r.ID, LastUpdateTimestamp: r.LastUpdateTimestamp,
			Name: r.Type, RelationType: nodeID("relationType", r.Type), Source: r.Source, Target: r.Target,
			DependencyDirection: r.DependencyDirection, Synchronized: true, FailingChecks: []any{},
			State:       elementState{"StackElementState", r.ID, "UNKNOWN", "UNKNOWN"},
			Identifiers: r.Identifiers})
	}
	seen := map[string]bool{}
	addNamed := func(list *[]named, kind, typ, name string, ordered bool) int64 {
		id := nodeID(kind, name)
		if !seen[kind+"\x00"+name] {
			seen[kind+"\x00"+name] = true
			n := named{Type: typ, ID: id, Name: name}
			if ordered {
				o := len(*list)
				n.Order = &o
			}
			*list = append(*list, n)
		}
		return id
	}
	m := &vs.Metadata
	for _, c := range t.Components.All() {
		vc := viewComp{Type: "ViewComponent", Visible: true, ID: c.ID, LastUpdateTimestamp: c.LastUpdateTimestamp, Name: c.Name,
			ComponentType:     nodeID("componentType", c.Type),
			Layer:             addNamed(&m.Layers, "layer", "Layer", c.Layer, true),
			Domain:            addNamed(&m.Domains, "domain", "Domain", c.Domain, true),
			Environments:      []int64{},
			State:             elementState{"StackElementState", c.ID, c.HealthState, c.PropagatedHealthState},
			RunState:          runState{"StackElementRunState", c.ID, "UNKNOWN"},
			OutgoingRelations: nonNilIDs(out[c.ID]), IncomingRelations: nonNilIDs(in[c.ID]),
			Synchronized: true, FailingChecks: []any{}, Identifiers: c.Identifiers, Tags: c.Labels,
			Properties: flatProperties(c.Properties)}
		for _, e := range c.Environments {
			vc.Environments = append(vc.Environments, addNamed(&m.Environments, "environment", "Environment", e, false))
		}
		vs.Components = append(vs.Components, vc)
	}
	return vs
}

func nonNilIDs(l []uint64) []uint64 {
	if l == nil {
		return []uint64{}
	}
	return l
}

// flatProperties turns a properties object into StackState's map of
// strings: string values as they are, other values as compact JSON.
func flatProperties(p json.RawMessage) map[string]string {
	out := map[string]string{}
	if len(p) == 0 {
		return out
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(p, &obj) != nil {
		return out
	}
	for k, v := range obj {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

// FullComponent is StackState's FullComponent.
type FullComponent struct {
	TypeName     string        `json:"typeName"`
	Data         ComponentData `json:"data"`
	Actions      []any         `json:"actions"`
	BoundMetrics []any         `json:"boundMetrics"`
}

// ComponentData is StackState's ComponentData.
type ComponentData struct {
	ID                  uint64              `json:"id"`
	Identifiers         []string            `json:"identifiers"`
	Name                string              `json:"name"`
	Tags                []string            `json:"tags"`
	Properties          map[string]string   `json:"properties"`
	LayerName           string              `json:"layerName"`
	DomainName          string              `json:"domainName"`
	Health              string              `json:"health"`
	LastUpdateTimestamp int64               `json:"lastUpdateTimestamp"`
	Synced              []ExternalComponent `json:"synced"`
}

// ExternalComponent is StackState's ExternalComponent: one source's part
// of a component.
type ExternalComponent struct {
	ExternalID       string          `json:"externalId"`
	Identifiers      []string        `json:"identifiers"`
	Data             map[string]any  `json:"data"`
	SyncName         string          `json:"syncName"`
	SourceProperties json.RawMessage `json:"sourceProperties"`
}

// handleComponent serves GET /api/components/{idOrIdentifier}: a component
// by its id or one of its identifiers, at ?topologyTime= (epoch ms), within
// the key's scope.
func (s *Server) handleComponent(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("idOrIdentifier")
	qr := QueryRequest{Query: "id = 0"} // replaced below; prepare checks the rest
	if tt := r.URL.Query().Get("topologyTime"); tt != "" {
		qr.At = tt
	}
	q, err := s.prepare(r, &qr)
	if err != nil {
		s.writeStackStateError(w, r, err)
		return
	}
	q.stmt = componentQuery(ref)
	ctx, cancel := context.WithTimeout(r.Context(), q.timeout)
	defer cancel()
	res, err := s.cfg.Engine.RunWith(ctx, q.stmt, q.opts)
	if err != nil {
		s.writeStackStateError(w, r, err)
		return
	}
	if res.Topology.Components.Len() == 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"_type": "StackElementNotFound", "objectType": "Component",
			"objectId": ref, "message": fmt.Sprintf("no component with id or identifier %q", ref)})
		return
	}
	c := res.Topology.Components.At(0)
	writeJSON(w, http.StatusOK, fullComponent(&c))
}

// componentQuery selects a component by id (a number) or identifier,
// built as a syntax tree so that no character of ref is read as query
// syntax.
func componentQuery(ref string) lang.Statement {
	val := &lang.Value{Kind: lang.ValString, Text: ref}
	key := "identifier"
	if n, err := strconv.ParseUint(ref, 10, 53); err == nil {
		key, val = "id", &lang.Value{Kind: lang.ValNumber, Text: ref, Number: float64(n)}
	}
	return &lang.TopologyStmt{Query: &lang.CompareExpr{Key: &lang.Key{Name: key}, Op: lang.CmpEq, Values: []*lang.Value{val}}}
}

func fullComponent(c *exec.Component) FullComponent {
	fc := FullComponent{TypeName: c.Type, Actions: []any{}, BoundMetrics: []any{}, Data: ComponentData{
		ID: c.ID, Identifiers: c.Identifiers, Name: c.Name, Tags: c.Labels, Properties: flatProperties(c.Properties),
		LayerName: c.Layer, DomainName: c.Domain, Health: c.HealthState, LastUpdateTimestamp: c.LastUpdateTimestamp,
		Synced: []ExternalComponent{},
	}}
	props := c.Properties
	if len(props) == 0 {
		props = json.RawMessage("{}")
	}
	for _, src := range c.Sources {
		fc.Data.Synced = append(fc.Data.Synced, ExternalComponent{ExternalID: src.ExternalID, Identifiers: c.Identifiers,
			Data: map[string]any{}, SyncName: src.Source, SourceProperties: props})
	}
	return fc
}
