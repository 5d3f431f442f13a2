package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/lang"
)

const keySynopsis = "create [--data DIR] --role ROLE [--scope QUERY] [--max-concurrent N] [--max-subscriptions N] NAME | list [--data DIR] | revoke [--data DIR] ID|NAME"

// runKey implements tetra key create|list|revoke: the API keys of a data
// directory. A running tetra serve picks changes up within a second.
func runKey(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "usage: tetra key %s\n", keySynopsis)
		return exitMisuse
	}
	switch args[0] {
	case "create":
		return keyCreate(e, args[1:])
	case "list":
		return keyList(e, args[1:])
	case "revoke":
		return keyRevoke(e, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintf(e.stderr, "usage: tetra key %s\n", keySynopsis)
		return exitOK
	}
	fmt.Fprintf(e.stderr, "tetra key: unknown subcommand %q\nusage: tetra key %s\n", args[0], keySynopsis)
	return exitMisuse
}

func keyCreate(e *env, args []string) int {
	fs := newFlags(e, "key create", "[--data DIR] --role ROLE [--scope QUERY] [--max-concurrent N] [--max-subscriptions N] NAME")
	data := dataFlag(fs)
	role := fs.String("role", "", "what the key may do: `read`, ingest, script or admin (admin may do everything)")
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
	fs := newFlags(e, "key list", "[--data DIR]")
	data := dataFlag(fs)
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
	if len(keys) == 0 {
		fmt.Fprintln(e.stdout, "no keys: tetra serve checks none and serves on loopback only")
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tSCOPE")
	for _, k := range keys {
		scope := k.Scope
		if scope == "" {
			scope = "(everything)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Role, k.Created.UTC().Format(time.RFC3339), scope)
	}
	tw.Flush()
	return exitOK
}

func keyRevoke(e *env, args []string) int {
	fs := newFlags(e, "key revoke", "[--data DIR] ID|NAME")
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
