package topokeys

import (
	"strconv"
	"strings"
)

// Key is a topology key.
type Key uint8

const (
	Name Key = iota + 1
	Type
	Layer
	Domain
	Environment
	Label
	Health
	Identifier
	ID
	numKeys = int(ID)
)

// spec is what the vocabulary says about one key.
type spec struct {
	name    string   // canonical name, lower-case
	aliases []string // other accepted spellings, lower-case
	exact   bool     // compared byte for byte (identifiers and ids); the others fold case
	values  []string // the accepted values of an enumerated key, upper-case; nil: any
}

// HealthStates are the values of healthstate, in the order users see them
// (graphstore orders them by severity for merging).
var HealthStates = []string{"CLEAR", "DEVIATING", "CRITICAL", "UNKNOWN"}

var specs = [numKeys + 1]spec{
	Name:        {name: "name"},
	Type:        {name: "type"},
	Layer:       {name: "layer"},
	Domain:      {name: "domain"},
	Environment: {name: "environment", aliases: []string{"environments"}},
	Label:       {name: "label"},
	Health:      {name: "healthstate", values: HealthStates},
	Identifier:  {name: "identifier", exact: true},
	ID:          {name: "id", exact: true},
}

// All lists every key in a fixed order.
func All() []Key {
	out := make([]Key, 0, numKeys)
	for k := Name; int(k) <= numKeys; k++ {
		out = append(out, k)
	}
	return out
}

// Names lists the canonical key names, in the order of All.
func Names() []string {
	out := make([]string, 0, numKeys)
	for _, k := range All() {
		out = append(out, specs[k].name)
	}
	return out
}

// Lookup resolves a key as written (any case, aliases accepted).
func Lookup(name string) (Key, bool) {
	lower := strings.ToLower(name)
	for _, k := range All() {
		s := &specs[k]
		if s.name == lower {
			return k, true
		}
		for _, a := range s.aliases {
			if a == lower {
				return k, true
			}
		}
	}
	return 0, false
}

// Valid reports whether k is a key of the vocabulary.
func (k Key) Valid() bool { return k >= Name && int(k) <= numKeys }

// String returns the canonical name of the key.
func (k Key) String() string {
	if !k.Valid() {
		return "key(" + strconv.Itoa(int(k)) + ")"
	}
	return specs[k].name
}

// Folded reports whether the key compares case-insensitively.
func (k Key) Folded() bool { return k.Valid() && !specs[k].exact }

// Values returns the accepted values of an enumerated key (nil: any value).
func (k Key) Values() []string {
	if !k.Valid() {
		return nil
	}
	return specs[k].values
}

// Term puts a value in index form: lower-cased for a folded key, as is for
// an exact one. Stores index component values in this form and queries look
// them up in it.
func (k Key) Term(s string) string {
	if k.Folded() {
		return Fold(s)
	}
	return s
}

// Fold is the case folding of case-insensitive keys.
func Fold(s string) string { return strings.ToLower(s) }

// Aliases maps every accepted spelling of a key, lower-case, to its
// canonical name.
func Aliases() map[string]string {
	out := map[string]string{}
	for _, k := range All() {
		s := &specs[k]
		out[s.name] = s.name
		for _, a := range s.aliases {
			out[a] = s.name
		}
	}
	return out
}
