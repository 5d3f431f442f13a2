package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/lang"
	"github.com/tetrahq/tetra/repl"
)

// runKey implements tetra key create|list|revoke: the API keys of a data
// directory. A running tetra serve picks changes up within a second.
func runKey(e *env, args []string) int {
	if subcommandHelp(e, "key", args) {
		return exitOK
	}
	if len(args) == 0 {
		return misuse(e, newFlags(e, "key"), "name a subcommand: create, list or revoke")
	}
	switch args[0] {
	case "create":
		return keyCreate(e, args[1:])
	case "list":
		return keyList(e, args[1:])
	case "revoke":
		return keyRevoke(e, args[1:])
	}
	return misuse(e, newFlags(e, "key"), "unknown subcommand %q%s: create, list or revoke", args[0],
		didYouMean(args[0], []string{"create", "list", "revoke"}))
}

func keyCreate(e *env, args []string) int {
	fs := newFlags(e, "key create")
	data := dataFlag(fs)
	role := fs.String("role", "", "what the key may do (`ROLE`): read, ingest, script or admin (admin may do everything)")
	scope := fs.String("scope", "", "confine the key to the components an STQL `QUERY` selects, e.g. 'label = \"team:shop\"'")
	maxConc := fs.Int("max-concurrent", 0, "requests the key may run at once (`N`; default: the server's limit)")
	maxSubs := fs.Int("max-subscriptions", 0, "live subscriptions the key may hold (`N`; default: the server's limit)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	switch {
	case len(pos) != 1:
		return misuse(e, fs, "name the key once, as in tetra key create --role read grafana")
	case *role == "":
		return misuse(e, fs, "--role is required: read, ingest, script or admin")
	case *maxConc < 0 || *maxSubs < 0:
		return misuse(e, fs, "limits must be positive")
	}
	r, err := api.ParseRole(*role)
	if err != nil {
		return misuse(e, fs, "--role: %v", err)
	}
	k, token, err := api.NewKeyFile(*data).Create(api.NewKey{Name: pos[0], Role: r, Scope: *scope,
		MaxConcurrent: *maxConc, MaxSubscriptions: *maxSubs}, e.now())
	if err != nil {
		if lang.Errors(err) != nil {
			fmt.Fprint(e.stderr, "tetra key create: --scope: ", lang.Render(*scope, err))
			return exitUser
		}
		return userError(e, "key create", err)
	}
	fmt.Fprintf(e.stderr, "created key %s (%s, role %s); it is shown once, keep it now:\n", k.ID, k.Name, k.Role)
	fmt.Fprintln(e.stdout, token)
	return exitOK
}

func keyList(e *env, args []string) int {
	fs := newFlags(e, "key list")
	data := dataFlag(fs)
	out := outputFlag(fs, "table", "table", "wide", "json", "tsv", "name")
	noHeaders := fs.Bool("no-headers", false, "leave out the header row")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) > 0 {
		return misuse(e, fs, "unexpected argument %q", pos[0])
	}
	keys, err := api.NewKeyFile(*data).Load()
	if err != nil {
		return userError(e, "key list", err)
	}
	if *out == "json" {
		return printJSON(e, keysJSON(keys))
	}
	if len(keys) == 0 && (*out == "table" || *out == "wide") {
		fmt.Fprintln(e.stdout, "no keys: tetra serve checks none and serves on loopback only")
		return exitOK
	}
	t := repl.Table{Columns: []repl.Column{
		{Header: "ID", Fixed: true, Keep: 4}, {Header: "NAME", Keep: 4, Name: true}, {Header: "ROLE", Fixed: true, Keep: 3},
		{Header: "CREATED", Fixed: true, Keep: 2}, {Header: "SCOPE", Keep: 1, Min: 12},
		{Header: "MAX-CONCURRENT", Wide: true}, {Header: "MAX-SUBSCRIPTIONS", Wide: true},
	}}
	for _, k := range keys {
		scope := k.Scope
		if scope == "" {
			scope = "(everything)"
		}
		t.Rows = append(t.Rows, []string{k.ID, k.Name, k.Role.String(), k.Created.UTC().Format(time.RFC3339), scope,
			limitText(k.MaxConcurrent), limitText(k.MaxSubscriptions)})
	}
	if err := repl.WriteTable(e.stdout, t, renderOptions(e, *out, *noHeaders)); err != nil {
		return userError(e, "key list", err)
	}
	return exitOK
}

// limitText shows a key's own limit ("" when it has the server's).
func limitText(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// keyJSON is a key as tetra key list -o json writes it (never its
// secret, which is not kept).
type keyJSON struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Role             string    `json:"role"`
	Created          time.Time `json:"created"`
	Scope            string    `json:"scope,omitempty"`
	MaxConcurrent    int       `json:"maxConcurrent,omitempty"`
	MaxSubscriptions int       `json:"maxSubscriptions,omitempty"`
}

func keysJSON(keys []api.Key) []keyJSON {
	out := make([]keyJSON, len(keys))
	for i, k := range keys {
		out[i] = keyJSON{ID: k.ID, Name: k.Name, Role: k.Role.String(), Created: k.Created.UTC(), Scope: k.Scope,
			MaxConcurrent: k.MaxConcurrent, MaxSubscriptions: k.MaxSubscriptions}
	}
	return out
}

func keyRevoke(e *env, args []string) int {
	fs := newFlags(e, "key revoke")
	data := dataFlag(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagStatus(err)
	}
	if len(pos) != 1 {
		return misuse(e, fs, "name one key by its id or name (tetra key list shows them)")
	}
	k, err := api.NewKeyFile(*data).Revoke(pos[0])
	if err != nil {
		return userError(e, "key revoke", err)
	}
	fmt.Fprintf(e.stdout, "revoked key %s (%s, role %s)\n", k.ID, k.Name, k.Role)
	return exitOK
}
