package ingest

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/telemetry"
)

// The service_checks list of an intake payload (docs/ingest-formats.md
// §5): {check, host_name, timestamp, status, message, tags}, the agent's
// "is this up" checks (ntp, http_check, a database's can_connect). Each
// becomes a check state, so that it drives the health of the host it ran
// on (healthstate filters, propagation), as the agent's own checks do:
//
//   - stream urn:health:service_checks:<host> (the check's host_name, else
//     the payload's internalHostname), one per host;
//   - check state id: the check's name, and its tags sorted
//     ("http_check|url:http://a"), so that two instances of one check
//     are two states;
//   - name: the check; message: the message (markdown);
//   - health: status 0 CLEAR, 1 DEVIATING (warning), 2 CRITICAL, 3 UNKNOWN;
//   - bound to urn:host:/<host>, the host component agents and spans
//     report.
//
// A check is put as REPEAT_STATES puts: it stays until a later one
// replaces it. check and status are required; a service check with no
// host at all is an error (it could bind to nothing).

var serviceCheckHealth = []graphstore.HealthState{graphstore.HealthClear, graphstore.HealthDeviating,
	graphstore.HealthCritical, graphstore.HealthUnknown}

// serviceChecks decodes an intake payload's service_checks into one
// Topology of check states.
func (w *walker) serviceChecks(p *path, raw json.RawMessage, defaultHost string) {
	sp := p.field("service_checks")
	l, _ := w.optList(sp, raw)
	if len(l) == 0 {
		return
	}
	before := len(w.errs.Errs) + w.errs.Dropped
	t := Topology{Path: sp.String(), CheckStates: []CheckState{}}
	for i, e := range l {
		if o, ok := w.object(sp.at(i), e); ok {
			if c, ok := w.serviceCheck(sp.at(i), o, defaultHost); ok {
				t.CheckStates = append(t.CheckStates, c)
			}
		}
	}
	if len(w.errs.Errs)+w.errs.Dropped == before {
		w.out = append(w.out, t)
	}
}

func (w *walker) serviceCheck(p *path, o object, defaultHost string) (CheckState, bool) {
	name, ok1 := w.reqString(p.field("check"), o.get("check"))
	status, ok2 := w.serviceCheckStatus(p.field("status"), o.get("status"))
	host, ok3 := w.optString(p.field("host_name"), o.get("host_name"))
	if host == "" {
		host = defaultHost
	}
	if ok3 && host == "" {
		w.failf(p.field("host_name"), "missing, and the payload has no internalHostname: the check would be about nothing")
		ok3 = false
	}
	msg, ok4 := w.optString(p.field("message"), o.get("message"))
	var tags []string
	if ts, ok := w.optStrings(p.field("tags"), o.get("tags")); ok {
		tags = slices.Sorted(slices.Values(ts))
	}
	if !absent(o.get("timestamp")) {
		w.number(p.field("timestamp"), o.get("timestamp")) // checked, not kept: a state's time is its version's
	}
	if len(msg) > graphstore.MaxMessageBytes {
		w.failf(p.field("message"), "the message is %d bytes; the limit is %d", len(msg), graphstore.MaxMessageBytes)
		ok4 = false
	}
	id := strings.Join(append([]string{name}, tags...), "|")
	if !(ok1 && ok2 && ok3 && ok4 && w.checkString(p.field("check"), id)) {
		return CheckState{}, false
	}
	return CheckState{Stream: "urn:health:service_checks:" + host, ID: id, Data: graphstore.CheckData{Name: name,
		State: status, Message: msg, Identifier: telemetry.HostIdentifier(host)}}, true
}

// serviceCheckStatus decodes a status, 0 to 3.
func (w *walker) serviceCheckStatus(p *path, raw json.RawMessage) (graphstore.HealthState, bool) {
	if absent(raw) {
		w.failf(p, "missing")
		return graphstore.HealthUnknown, false
	}
	v, ok := w.number(p, raw)
	if !ok {
		return graphstore.HealthUnknown, false
	}
	if v != math.Trunc(v) || v < 0 || v > 3 {
		w.failf(p, "%s is not a service check status: want 0 (ok), 1 (warning), 2 (critical) or 3 (unknown)", strconv.FormatFloat(v, 'g', -1, 64))
		return graphstore.HealthUnknown, false
	}
	return serviceCheckHealth[int(v)], true
}
