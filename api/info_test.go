package api_test

import (
	"testing"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
)

// TestInfoAndValues: GET /api/info counts the graph by source and GET
// /api/values lists a key's values with counts, both within a scoped key's
// scope.
func TestInfoAndValues(t *testing.T) {
	f := newFixture(t, api.Limits{}, keySpec{name: "all", role: api.RoleRead},
		keySpec{name: "shop", role: api.RoleRead, scope: `label = "app:checkout"`})
	var info api.Info
	f.do("GET", "/api/info", "all", nil).json(t, &info)
	if info.Version.Tetra != "test" || info.Version.ResultSchemaVersion != 1 || info.Version.StackStateAPI != "6.0.0" {
		t.Errorf("versions: %+v", info.Version)
	}
	if s := info.Summary; s.Components != 13 || s.Relations != 21 || len(s.Sources) != 3 || s.Sources[1] != (exec.SourceCount{Source: "kubernetes:shop-prod", Components: 12, Relations: 16}) {
		t.Errorf("summary: %+v", s)
	}
	if info.Store == nil || info.Store.LastCommit == nil || info.Store.HeldSince != nil || info.Store.Horizon != nil {
		t.Errorf("store: %+v", info.Store)
	}
	f.do("GET", "/api/info", "shop", nil).json(t, &info)
	if s := info.Summary; s.Components != 2 || s.Relations != 1 {
		t.Errorf("scoped summary: %+v", s)
	}

	var vals api.Values
	f.do("GET", "/api/values?key=type&counts=true", "all", nil).json(t, &vals)
	if got := len(vals.Values); got != 6 || len(vals.Counts) != 6 || vals.Values[4] != "pod" || vals.Counts[4] != 4 {
		t.Errorf("values: %+v", vals)
	}
	var scoped api.Values
	f.do("GET", "/api/values?key=type", "shop", nil).json(t, &scoped)
	if len(scoped.Values) != 2 || scoped.Counts != nil || scoped.Values[0] != "pod" {
		t.Errorf("scoped values, no counts: %+v", scoped)
	}
}
