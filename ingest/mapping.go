package ingest

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode"

	"github.com/tetrahq/tetra/graphstore"
)

// The rules that turn a component's or relation's JSON into the store's
// model are listed in doc.go; keep the two in step.

func (w *walker) intakeComponent(p *path, o object) Component {
	ext, _ := w.reqString(p.field("externalId"), o.get("externalId"))
	typ := w.typeName(p.field("type"), o.get("type"))
	return w.component(p, ext, typ, o)
}

func (w *walker) stubComponent(p *path, o object) Component {
	ext, _ := w.reqString(p.field("id"), o.get("id"))
	typ, _ := w.optString(p.field("type"), o.get("type"))
	return w.component(p, ext, typ, o)
}

func (w *walker) intakeRelation(p *path, o object) Relation {
	ext, _ := w.reqString(p.field("externalId"), o.get("externalId"))
	typ := w.typeName(p.field("type"), o.get("type"))
	src, _ := w.reqString(p.field("sourceId"), o.get("sourceId"))
	dst, _ := w.reqString(p.field("targetId"), o.get("targetId"))
	return w.relation(p, ext, typ, src, dst, o)
}

// stubRelation names the relation as the agent does when a Python check
// submits it: "<source>-<type>-<target>".
func (w *walker) stubRelation(p *path, o object) Relation {
	typ, _ := w.optString(p.field("type"), o.get("type"))
	src, _ := w.reqString(p.field("source_id"), o.get("source_id"))
	dst, _ := w.reqString(p.field("target_id"), o.get("target_id"))
	ext := src + "-" + typ + "-" + dst
	if len(ext) > graphstore.MaxStringBytes {
		w.failf(p, "the relation's external id <source_id>-<type>-<target_id> is %d bytes long; the limit is %d",
			len(ext), graphstore.MaxStringBytes)
	}
	return w.relation(p, ext, typ, src, dst, o)
}

// typeName reads an intake type, {"name": "…"}.
func (w *walker) typeName(p *path, raw json.RawMessage) string {
	if absent(raw) {
		return ""
	}
	if kindOf(raw) != '{' {
		w.wrongType(p, `an object {"name": …}`, raw)
		return ""
	}
	o, _ := w.object(p, raw)
	name, _ := w.optString(p.field("name"), o.get("name"))
	return name
}

func (w *walker) component(p *path, ext, typ string, o object) Component {
	dp := p.field("data")
	data, _ := w.optObject(dp, o.get("data"))
	f := w.fields(dp, data, true)
	return Component{ExternalID: ext, Data: graphstore.ComponentData{
		Name: f.name, Type: typ, Layer: f.layer, Domain: f.domain,
		Identifiers:  w.list(dp, "identifiers", f.ids),
		Environments: w.list(dp, "environments", f.envs),
		Labels:       w.list(dp, "labels", f.labels),
		Properties:   w.properties(p, o),
	}}
}

func (w *walker) relation(p *path, ext, typ, src, dst string, o object) Relation {
	dp := p.field("data")
	data, _ := w.optObject(dp, o.get("data"))
	f := w.fields(dp, data, false)
	return Relation{ExternalID: ext, Data: graphstore.RelationData{
		Type: typ, SourceRef: src, TargetRef: dst,
		Identifiers: w.list(dp, "identifiers", f.ids),
		Labels:      w.list(dp, "labels", f.labels),
		Dependency:  w.dependency(dp, data),
		Properties:  w.properties(p, o),
	}}
}

// fields is what the interpreted keys of a data object say.
type fields struct {
	name, layer, domain string
	ids, envs, labels   []string
	// Values lifted from stackstate-* tags, used where the plain field is
	// absent.
	tagLayer, tagDomain string
	tagEnvs             []string
}

// fields reads the interpreted keys of a data object: for components all of
// them, for relations identifiers, labels and tags.
func (w *walker) fields(dp *path, data object, component bool) fields {
	var f fields
	f.ids, _ = w.optStrings(dp.field("identifiers"), data.get("identifiers"))
	f.labels = w.labels(dp.field("labels"), data.get("labels"))
	w.tags(dp.field("tags"), data.get("tags"), &f)
	if !component {
		return f
	}
	f.name, _ = w.optString(dp.field("name"), data.get("name"))
	f.layer, _ = w.optString(dp.field("layer"), data.get("layer"))
	f.domain, _ = w.optString(dp.field("domain"), data.get("domain"))
	env, _ := w.optString(dp.field("environment"), data.get("environment"))
	f.envs, _ = w.optStrings(dp.field("environments"), data.get("environments"))
	if env != "" {
		f.envs = append(f.envs, env)
	}
	if f.layer == "" {
		f.layer = f.tagLayer
	}
	if f.domain == "" {
		f.domain = f.tagDomain
	}
	if len(f.envs) == 0 {
		f.envs = f.tagEnvs
	}
	return f
}

// labels reads a list of labels, or one string of comma-separated labels.
func (w *walker) labels(p *path, raw json.RawMessage) []string {
	switch {
	case absent(raw):
		return nil
	case kindOf(raw) == '[':
		l, _ := w.optStrings(p, raw)
		return l
	case kindOf(raw) != '"':
		w.wrongType(p, "a list of strings or a comma-separated string", raw)
		return nil
	}
	s, ok := w.optString(p, raw)
	if !ok {
		return nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// tags reads tags, a list of "key:value" or plain strings or an object of
// string values, into labels and lifted fields.
func (w *walker) tags(p *path, raw json.RawMessage, f *fields) {
	switch {
	case absent(raw):
	case kindOf(raw) == '[':
		l, _ := w.optStrings(p, raw)
		for _, t := range l {
			k, v, ok := strings.Cut(t, ":")
			f.tag(t, k, v, ok)
		}
	case kindOf(raw) == '{':
		o, _ := w.object(p, raw)
		for _, k := range sortedKeys(o) {
			v, ok := w.optString(p.field(k), o.get(k))
			label := k
			if v != "" {
				label += ":" + v
			}
			if ok && w.checkString(p.field(k), label) {
				f.tag(label, k, v, v != "")
			}
		}
	default:
		w.wrongType(p, "a list of strings or an object of strings", raw)
	}
}

// tag files one tag: a stackstate-* tag is lifted into its field, any other
// becomes a label.
func (f *fields) tag(label, k, v string, kv bool) {
	if !kv {
		f.labels = append(f.labels, label)
		return
	}
	v = strings.TrimSpace(v)
	switch k {
	case "stackstate-identifiers":
		f.ids = append(f.ids, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })...)
	case "stackstate-identifier":
		if v != "" {
			f.ids = append(f.ids, v)
		}
	case "stackstate-layer":
		if f.tagLayer == "" {
			f.tagLayer = v
		}
	case "stackstate-domain":
		if f.tagDomain == "" {
			f.tagDomain = v
		}
	case "stackstate-environment":
		if v != "" {
			f.tagEnvs = append(f.tagEnvs, v)
		}
	default:
		f.labels = append(f.labels, label)
	}
}

func sortedKeys(o object) []string {
	ks := o.keys()
	slices.Sort(ks)
	return ks
}

// list sorts and deduplicates a list and checks it against the store's
// list limit.
func (w *walker) list(dp *path, what string, l []string) []string {
	if len(l) == 0 {
		return nil
	}
	slices.Sort(l)
	l = slices.Compact(l)
	if len(l) > graphstore.MaxListLen {
		w.failf(dp, "%d distinct %s; the limit is %d", len(l), what, graphstore.MaxListLen)
	}
	return l
}

// dependency reads a relation's dependency direction.
func (w *walker) dependency(dp *path, data object) graphstore.DependencyDirection {
	key := "dependencyDirection"
	if absent(data.get(key)) {
		key = "dependency_direction"
	}
	s, ok := w.optString(dp.field(key), data.get(key))
	if !ok {
		return graphstore.DependencyOneWay
	}
	d, err := graphstore.ParseDependencyDirection(s)
	if err != nil {
		w.failf(dp.field(key), "unknown dependency direction %q (want ONE_WAY, BOTH or NONE)", s)
	}
	return d
}

// properties picks an element's properties: sourceProperties when present
// and not null, else the whole data object; compacted and checked against
// the store's limit.
func (w *walker) properties(p *path, o object) json.RawMessage {
	pp, raw := p.field("sourceProperties"), o.get("sourceProperties")
	if len(raw) == 0 || kindOf(raw) == 'n' {
		pp, raw = p.field("data"), o.get("data")
		if kindOf(raw) != '{' {
			return nil // absent, or already reported by optObject
		}
	} else if kindOf(raw) != '{' {
		w.wrongType(pp, "an object", raw)
		return nil
	}
	buf := compact(raw)
	if len(buf) > graphstore.MaxPropertiesBytes {
		w.failf(pp, "properties are %s as compact JSON; the limit is %s",
			formatBytes(int64(len(buf))), formatBytes(graphstore.MaxPropertiesBytes))
		return nil
	}
	if d := graphstore.PropertiesDepth(buf); d > graphstore.MaxPropertiesDepth {
		w.failf(pp, "properties nest %d deep; the limit is %d", d, graphstore.MaxPropertiesDepth)
		return nil
	}
	if string(buf) == "{}" {
		return nil
	}
	return buf
}
