package ingest

import (
	"encoding/json"
	"slices"

	"github.com/tetrahq/tetra/telemetry"
)

// The telemetry of an intake payload (docs/ingest-formats.md §3, §4):
//
//   - metrics: a list of [name, epoch seconds, value, {hostname, type,
//     tags, device_name}]. The host tag is the hostname, or the payload's
//     internalHostname; device_name becomes the device tag; type is not
//     kept (Tetra stores every kind as a gauge).
//   - /api/v1/series: {"series": [{metric, points: [[secs, value], …],
//     tags, host, device, type, interval}]}.
//   - events: an object whose keys name event groups, each a list of
//     {msg_title, msg_text, timestamp, event_type, source_type_name, tags,
//     host, alert_type, priority, context: {category, source,
//     source_identifier, element_identifiers, data, source_links}}. The
//     event's name is msg_title, its message msg_text, its type event_type,
//     its source context.source (else source_type_name, else the group's
//     key); host, alert_type and priority become tags. Its id is
//     "<source>:<source_identifier>" when the context names one, else
//     derived from its content, so a repeated event is stored once.

// intakeHost is an intake payload's default host, its internalHostname; a
// value that is not a string (a recording's template marker) names none.
func (w *walker) intakeHost(p *path, o object) string {
	host := ""
	if raw := o.get("internalHostname"); kindOf(raw) == '"' {
		host, _ = w.str(p.field("internalHostname"), raw)
	}
	return host
}

// intakeTelemetry decodes the metrics and events of an intake payload,
// host being its default host.
func (w *walker) intakeTelemetry(p *path, o object, host string) {
	mp := p.field("metrics")
	ms, _ := w.optList(mp, o.get("metrics"))
	for i, raw := range ms {
		w.intakeMetric(mp.at(i), raw, host)
	}
	sp := p.field("series")
	ss, _ := w.optList(sp, o.get("series"))
	for i, raw := range ss {
		if so, ok := w.object(sp.at(i), raw); ok {
			w.seriesEntry(sp.at(i), so)
		}
	}
	if absent(o.get("events")) {
		return
	}
	ep := p.field("events")
	groups, ok := w.object(ep, o.get("events"))
	if !ok {
		return
	}
	keys := groups.keys()
	slices.Sort(keys) // by name, whatever the document's order
	for _, k := range keys {
		gp := ep.field(k)
		l, _ := w.optList(gp, groups.get(k))
		for i, raw := range l {
			if eo, ok := w.object(gp.at(i), raw); ok {
				w.intakeEvent(gp.at(i), k, eo)
			}
		}
	}
}

// intakeMetric decodes [name, secs, value, meta].
func (w *walker) intakeMetric(p *path, raw json.RawMessage, host string) {
	if kindOf(raw) != '[' {
		w.wrongType(p, "a list [name, epoch seconds, value, {hostname, tags}]", raw)
		return
	}
	l := splitList(raw)
	if len(l) < 3 || len(l) > 4 {
		w.failf(p, "want [name, epoch seconds, value, {hostname, tags}], got a list of %d", len(l))
		return
	}
	var s telemetry.Series
	name, ok1 := w.reqString(p.at(0), l[0])
	t, ok2 := w.epochSeconds(p.at(1), l[1])
	v, ok3 := w.number(p.at(2), l[2])
	s.Name = name
	if len(l) == 4 && !absent(l[3]) {
		mp := p.at(3)
		meta, ok := w.object(mp, l[3])
		if !ok {
			return
		}
		if h, _ := w.optString(mp.field("hostname"), meta.get("hostname")); h != "" {
			host = h
		}
		s.Tags = w.tagList(mp.field("tags"), meta.get("tags"))
		if dev, _ := w.optString(mp.field("device_name"), meta.get("device_name")); dev != "" {
			s.Tags = append(s.Tags, telemetry.Tag{Key: "device", Value: dev})
		}
	}
	if host != "" {
		s.Tags = append(s.Tags, telemetry.Tag{Key: "host", Value: host})
	}
	w.addSeriesSample(p, s, telemetry.Sample{T: t, V: v}, ok1 && ok2 && ok3)
}

// addSeriesSample validates a series and adds the sample.
func (w *walker) addSeriesSample(p *path, s telemetry.Series, x telemetry.Sample, ok bool) {
	if !ok {
		return
	}
	s.Tags = sortedTags(s.Tags)
	ss := telemetry.SeriesSamples{Series: s, Samples: []telemetry.Sample{x}}
	if !w.checkData(p, telemetry.CheckSeries(&ss)) {
		return
	}
	w.tel.addSample(s, x)
}

// seriesEntry decodes one entry of /api/v1/series.
func (w *walker) seriesEntry(p *path, o object) {
	var s telemetry.Series
	name, ok := w.reqString(p.field("metric"), o.get("metric"))
	s.Name = name
	s.Tags = w.tagList(p.field("tags"), o.get("tags"))
	if h, _ := w.optString(p.field("host"), o.get("host")); h != "" {
		s.Tags = append(s.Tags, telemetry.Tag{Key: "host", Value: h})
	}
	if dev, _ := w.optString(p.field("device"), o.get("device")); dev != "" {
		s.Tags = append(s.Tags, telemetry.Tag{Key: "device", Value: dev})
	}
	pp := p.field("points")
	pts, _ := w.optList(pp, o.get("points"))
	for i, raw := range pts {
		ip := pp.at(i)
		if kindOf(raw) != '[' || len(splitList(raw)) != 2 {
			w.wrongType(ip, "a pair [epoch seconds, value]", raw)
			continue
		}
		pair := splitList(raw)
		t, ok1 := w.epochSeconds(ip.at(0), pair[0])
		v, ok2 := w.number(ip.at(1), pair[1])
		w.addSeriesSample(ip, s, telemetry.Sample{T: t, V: v}, ok && ok1 && ok2)
	}
}

// intakeEvent decodes one event of an intake payload's events object.
func (w *walker) intakeEvent(p *path, group string, o object) {
	var e telemetry.Event
	title, ok1 := w.reqString(p.field("msg_title"), o.get("msg_title"))
	t, ok2 := w.epochSeconds(p.field("timestamp"), o.get("timestamp"))
	e.Name, e.Time = title, t
	e.Message, _ = w.optString(p.field("msg_text"), o.get("msg_text"))
	e.Type, _ = w.optString(p.field("event_type"), o.get("event_type"))
	e.Source, _ = w.optString(p.field("source_type_name"), o.get("source_type_name"))
	e.Tags = w.tagList(p.field("tags"), o.get("tags"))
	for _, k := range []string{"host", "alert_type", "priority"} {
		if v, _ := w.optString(p.field(k), o.get(k)); v != "" {
			e.Tags = append(e.Tags, telemetry.Tag{Key: k, Value: v})
		}
	}
	sourceID := ""
	if !absent(o.get("context")) {
		sourceID = w.eventContext(p.field("context"), o.get("context"), &e)
	}
	if e.Source == "" {
		e.Source = group
	}
	e.Category = telemetry.CanonicalCategory(e.Category)
	e.Tags = sortedTags(e.Tags)
	if sourceID != "" {
		e.ID = e.Source + ":" + sourceID
	} else {
		e.ID = telemetry.EventID(&e)
	}
	if ok1 && ok2 && w.checkData(p, telemetry.CheckEvent(&e)) {
		w.tel.events = append(w.tel.events, e)
	}
}

// eventContext decodes an event's context into e and returns its
// source_identifier.
func (w *walker) eventContext(p *path, raw json.RawMessage, e *telemetry.Event) string {
	c, ok := w.object(p, raw)
	if !ok {
		return ""
	}
	e.Category, _ = w.optString(p.field("category"), c.get("category"))
	if src, _ := w.optString(p.field("source"), c.get("source")); src != "" {
		e.Source = src
	}
	e.Identifiers, _ = w.optStrings(p.field("element_identifiers"), c.get("element_identifiers"))
	if !absent(c.get("data")) {
		if kindOf(c.get("data")) != '{' {
			w.wrongType(p.field("data"), "an object", c.get("data"))
		} else {
			e.Data = compact(c.get("data"))
		}
	}
	lp := p.field("source_links")
	links, _ := w.optList(lp, c.get("source_links"))
	for i, raw := range links {
		if lo, ok := w.object(lp.at(i), raw); ok {
			title, _ := w.optString(lp.at(i).field("title"), lo.get("title"))
			url, _ := w.optString(lp.at(i).field("url"), lo.get("url"))
			e.Links = append(e.Links, telemetry.Link{Title: title, URL: url})
		}
	}
	id, _ := w.optString(p.field("source_identifier"), c.get("source_identifier"))
	return id
}
