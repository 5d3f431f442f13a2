package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// cmdHelp is what a command's help says besides its flags.
type cmdHelp struct {
	usage    []string // after "tetra NAME "
	about    string   // what it does, a paragraph or two
	examples string   // shell lines, "# comments" above them
}

// helps holds every command's help, by the name newFlags is given.
var helps = map[string]cmdHelp{
	"query": {
		usage: []string{"[--data DIR [--elasticsearch URL] | --server URL [--key K]] [flags] 'QUERY'…", "[flags] -f FILE"},
		about: `Runs TQL statements and prints their results: tables fitted to the terminal
(whole when piped), or the format -o names. Reads a data directory (--data,
$TETRA_DATA, ./tetra-data) or asks a server (--server, $TETRA_SERVER); both print
the same. Several queries, or -f FILE (statements ending at ";" or a blank line;
- reads stdin), run one after the other; the exit status is 1 if any failed.

Output formats (-o): table (the default), wide (every column, never cut), json
(the result document of docs/api.md, one per statement), tsv (tab-separated,
for cut and awk), name (component names, one a line).`,
		examples: `# services, and what the checkout service depends on two levels out
tetra query 'type = "service"'
tetra query 'withNeighborsOf(components = (name = "checkout"), levels = "2")'
# the graph an hour ago, and what changed since
tetra query 'type = "pod" AT "-1h"'
tetra query 'name = "*" CHANGES FROM "-1h" TO "now"'
# for scripts: names only, or tab-separated without headers
tetra query -o name 'type = "pod" AND healthstate = "CRITICAL"'
tetra query -o tsv --no-headers 'layer = "Services"' | cut -f2
# a file of queries, against a server
tetra query --server https://tetra.example:7070 --key "$KEY" -f checks.tql`,
	},
	"repl": {
		usage: []string{"[--data DIR [--elasticsearch URL] | --server URL [--key K]] [--history FILE | --no-history] [flags]"},
		about: `An interactive shell for TQL: completion of keywords, keys and the values the
data holds, history, multi-line statements (a statement ends at ";" or a blank
line), :at to travel in time, :watch for live changes, :script for JavaScript,
:values to see what is there. Type :help in it. With its input from a file or a
pipe it runs the statements in it. docs/repl.md describes it.`,
		examples: `tetra repl --data shop
tetra repl --server localhost:7070
printf 'type = "pod";\n' | tetra repl --data shop`,
	},
	"describe": {
		usage: []string{"[--data DIR | --server URL [--key K]] [--at T] ID|NAME|IDENTIFIER"},
		about: `Shows one component: its type, layer, domain, environments, labels, identifiers,
health (its own state and the check states behind it, its propagated state and
the degraded dependencies it comes from), the sources that report it, its
properties, and its neighbours (the components its relations lead to and come
from). A number is a component id; a name that several components share lists
them, to pick one by id; anything else is looked up as an identifier (urn:…).`,
		examples: `tetra describe checkout
tetra describe 6
tetra describe 'urn:kubernetes:/shop-prod:shop:service/checkout'
tetra describe --at -1h checkout`,
	},
	"values": {
		usage: []string{"[--data DIR | --server URL [--key K]] [flags] [KEY [PREFIX]]"},
		about: `Lists the values of a topology key that components carry, with how many carry
each, as psql's \d lists tables: what types, layers, domains, environments,
labels, health states, names or identifiers there are to query. Without KEY it
lists the keys. Values of keys that compare without regard to case are listed
in lower case.`,
		examples: `tetra values                  # the keys
tetra values type
tetra values label app:       # labels that start with app:
tetra values -o name layer    # the layers, one a line`,
	},
	"info": {
		usage: []string{"[--data DIR | --server URL [--key K]] [-o table|json]"},
		about: `Says what a data directory or a server holds: the span of time it can be
queried over (from the retention horizon or the first version to the last
change), how long history is kept, how many components and relations there are
now and from which sources, the size on disk, and the versions of tetra, of the
result JSON and of the StackState API it speaks.`,
		examples: `tetra info --data shop
tetra info --server localhost:7070 -o json`,
	},
	"load": {
		usage: []string{"[--data DIR] [--elasticsearch URL] [--time T] [--source NAME] [--shift-from T] FILE…"},
		about: `Loads topology files (StackState intake JSON, the agent check form, or lists of
either) into a data directory, each file one version of the graph, applied as
the receiver applies it; and metrics, events and spans (intake metrics and
events, /api/v1/series, trace-agent spans, OTLP/JSON) into the data directory's
telemetry and trace stores, or Elasticsearch's with --elasticsearch.
--shift-from T moves the data by now − T, replaying a recording as recent. A
file with an error commits nothing. Ctrl-C stops
between and within files; what was not committed is not written.`,
		examples: `tetra load --data shop testdata/topology/webshop-kubernetes.json
tetra load --data shop --time -1h agent.json traces.json
tetra load --data shop --shift-from 2026-11-01T11:00:00Z testdata/telemetry/webshop-metrics.json
curl -s https://example/topology.json | tetra load --data shop -`,
	},
	"parse": {
		usage: []string{"'QUERY'", "-f FILE"},
		about: `Prints the canonical form of a query, or its error with a caret under the part
it is about. With -f it checks a file of queries, one a line, and sums up.`,
		examples: `tetra parse 'name IN ("a","b") not label = "x"'
tetra parse -f queries.txt`,
	},
	"script": {
		usage: []string{"run [--data DIR | --server URL [--key K]] (-f FILE | --script S) [--timeout D] [--allow-host HOST]… [--json]"},
		about: `Runs a JavaScript script with StackState's script APIs (Topology, Component,
Telemetry, Time, Http) and prints its value as JSON. docs/scripting.md is the
reference.`,
		examples: `tetra script run --data shop --script 'Topology.query("type = \"service\"").components().thenCollect(c => c.name)'
tetra script run --data shop --json -f report.js`,
	},
	"script run": {
		usage: []string{"[--data DIR | --server URL [--key K]] (-f FILE | --script S) [--timeout D] [--allow-host HOST]… [--json]"},
		about: `Runs a JavaScript script with StackState's script APIs and prints its value as
JSON; with --json StackState's typed result. With --server the server runs it
(POST /api/script/execute, a key of role script) and the output is the same.
docs/scripting.md is the reference.`,
		examples: `tetra script run --data shop --script 'Component.withId(6).get().then(c => c.name)'
tetra script run --data shop -f report.js
tetra script run --server localhost:7070 --key "$KEY" -f report.js`,
	},
	"automation": {
		usage: []string{"apply -f FILE | list | run NAME [--event JSON] | runs NAME [--limit N] | delete NAME",
			"SUBCOMMAND [--data DIR | --server URL [--key K]] [--json]"},
		about: `Manages automations: monitors (a script that sets health states on a schedule),
event handlers (a script run when the own or propagated health state of a
component a filter selects changes, or for each event that matches a filter)
and scheduled scripts. Against a data directory or a server (a key of role script or admin);
both print the same. docs/automations.md is the reference.`,
		examples: `tetra automation apply --data shop -f monitors.yaml
tetra automation list --server localhost:7070 --key "$KEY"
tetra automation run --data shop db-latency
tetra automation runs --data shop --limit 5 db-latency`,
	},
	"mcp": {
		usage: []string{"[--data DIR | --server URL [--key K]]"},
		about: `Serves Tetra's MCP tools (query, explain, describe_component, what_changed,
search_events, search_traces, list_values, run_script) to an AI assistant over
stdio: reading a data directory, or forwarding to a server's POST /mcp with a
key whose role and scope decide what the assistant sees. docs/mcp.md shows an
assistant's configuration.`,
		examples: `tetra mcp --data shop
tetra mcp --server https://tetra.example:7070 --key "$KEY"`,
	},
	"automation apply": {
		usage: []string{"-f FILE [--data DIR | --server URL [--key K]] [--json]"},
		about: "Creates or replaces the automations defined in FILE (YAML or JSON; - reads stdin).\nEvery mistake of every definition is reported before anything is applied.",
	},
	"automation list": {
		usage: []string{"[--data DIR | --server URL [--key K]] [--json]"},
		about: "Lists the automations and how each is doing: last run, failures, next run.",
	},
	"automation run": {
		usage: []string{"NAME [--event JSON] [--data DIR | --server URL [--key K]] [--json]"},
		about: "Runs an automation now, once, and prints the run's record.",
	},
	"automation runs": {
		usage: []string{"NAME [--limit N] [--data DIR | --server URL [--key K]] [--json]"},
		about: "Prints the newest records of an automation's runs.",
	},
	"automation delete": {
		usage: []string{"NAME [--data DIR | --server URL [--key K]]"},
		about: "Deletes an automation and the records of its runs.",
	},
	"serve": {
		usage: []string{"[--data DIR] [--elasticsearch URL] [--kafka BROKERS] [--listen ADDR] [--otlp-grpc ADDR] [--config FILE] [--tls-cert FILE --tls-key FILE] [--log-format text|json] [--log-level L]",
			"--demo [--demo-speed N] [--demo-seed N] [--data DIR] [--listen ADDR]"},
		about: `Runs the server: the REST API, live subscriptions over WebSocket, metrics, on one
address, and the StackState and OTLP/HTTP receivers; with --otlp-grpc also
OTLP/gRPC on a port of its own. Without API keys it listens on loopback only.
SIGINT or SIGTERM drains it and closes the store. docs/api.md describes the API
and the configuration file. With --kafka the receiver produces to Kafka, the
node keeps a full replica of the topology from its topics, and a consumer group
writes metrics, events and spans to the data stores: once per cluster with
--elasticsearch, into each node's own stores otherwise (docs/ingest.md).

With --demo it also runs a simulated web shop on Kubernetes whose agents report
to the server's own receiver with an ingest key it creates, and prints an admin
key and what to try (README.md has the tour). The data directory is a temporary
one, removed at the end, unless --data names one; the log shows warnings only
unless --log-level says otherwise.`,
		examples: `tetra serve --data shop
tetra serve --config /etc/tetra/tetra.yaml
tetra serve --data shop --kafka kafka-1:9092,kafka-2:9092
tetra serve --data shop --listen 0.0.0.0:7070 --tls-cert cert.pem --tls-key key.pem
# OpenTelemetry SDKs and Collectors: OTLP/HTTP on :7070, OTLP/gRPC on :4317
tetra serve --data shop --otlp-grpc 127.0.0.1:4317
# the demo, its five-minute scenario in thirty seconds
tetra serve --demo --demo-speed 10`,
	},
	"key": {
		usage: []string{"create [--data DIR] --role ROLE [--scope QUERY] NAME", "list [--data DIR] [-o table|json|tsv|name] [--no-headers]", "revoke [--data DIR] ID|NAME"},
		about: `Manages the API keys of a data directory. A running server picks changes up
within a second. A key is shown once, when it is created.`,
		examples: `tetra key create --data shop --role read grafana
tetra key create --data shop --role read --scope 'label = "team:shop"' shop-team
tetra key list --data shop
tetra key revoke --data shop shop-team`,
	},
	"key create": {
		usage: []string{"[--data DIR] --role ROLE [--scope QUERY] [--max-concurrent N] [--max-subscriptions N] NAME"},
		about: `Creates an API key and prints it once on stdout (the rest goes to stderr).
Roles: read, ingest, script, admin. A scope (an STQL filter) confines every
answer the key gets.`,
		examples: `tetra key create --data shop --role admin ops
KEY=$(tetra key create --data shop --role read --scope 'label = "team:shop"' shop-team)`,
	},
	"key list": {
		usage: []string{"[--data DIR] [-o table|json|tsv|name] [--no-headers]"},
		about: `Lists the API keys of a data directory (never their secrets).`,
		examples: `tetra key list --data shop
tetra key list --data shop -o name`,
	},
	"key revoke": {
		usage: []string{"[--data DIR] ID|NAME"},
		about: `Revokes an API key by its id or name; a running server refuses it within a
second.`,
		examples: `tetra key revoke --data shop shop-team`,
	},
	"completion": {
		usage: []string{"bash|zsh|fish"},
		about: `Prints a script that makes the shell complete tetra's commands, flags, formats
and the keys of tetra values.`,
		examples: `source <(tetra completion bash)                         # bash, this session
tetra completion bash > /etc/bash_completion.d/tetra
tetra completion zsh > "${fpath[1]}/_tetra"              # zsh
tetra completion fish > ~/.config/fish/completions/tetra.fish`,
	},
	"version": {
		usage: []string{"[-o json]"},
		about: `Prints tetra's version, the commit it was built from and the Go version, and
the versions of the result JSON and of the StackState API it speaks.`,
		examples: `tetra version
tetra --version`,
	},
	"help": {
		usage: []string{"[COMMAND [SUBCOMMAND]]"},
		about: `Prints the help of tetra, or of a command.`,
		examples: `tetra help query
tetra help key create`,
	},
}

// printHelp writes a command's help: usage, what it does, flags and
// examples.
func printHelp(w io.Writer, fs *flags) {
	h := helps[fs.name]
	for i, u := range h.usage {
		lead := "Usage: "
		if i > 0 {
			lead = "       "
		}
		fmt.Fprintf(w, "%stetra %s %s\n", lead, fs.name, u)
	}
	if h.about != "" {
		fmt.Fprintf(w, "\n%s\n", h.about)
	}
	if hasFlags(fs) {
		fmt.Fprintln(w, "\nFlags:")
		printFlags(w, fs)
	}
	if h.examples != "" {
		fmt.Fprintln(w, "\nExamples:")
		for _, l := range strings.Split(h.examples, "\n") {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
}

func hasFlags(fs *flags) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// runHelp implements tetra help [COMMAND [SUBCOMMAND]]: the help of a
// command, on stdout, as COMMAND --help prints it.
func runHelp(e *env, args []string) int {
	if len(args) == 0 {
		usage(e.stdout)
		return exitOK
	}
	name := args[0]
	if len(args) > 1 {
		if _, ok := helps[name+" "+args[1]]; ok {
			name += " " + args[1]
		}
	}
	c, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "tetra help: unknown command %q%s\n", args[0], didYouMean(args[0], commandOrder))
		fmt.Fprintln(e.stderr, "Run 'tetra help' for the list of commands.")
		return exitMisuse
	}
	if name == "help" {
		usage(e.stdout)
		return exitOK
	}
	// The command prints its own help (it knows its flags).
	return c.run(e, append(strings.Fields(strings.TrimPrefix(name, args[0])), "--help"))
}

// subcommandHelp prints the help of a command with subcommands (key,
// script) when it is asked for, and reports whether it was.
func subcommandHelp(e *env, name string, args []string) bool {
	if len(args) == 0 || (args[0] != "-h" && args[0] != "--help" && args[0] != "-help" && args[0] != "help") {
		return false
	}
	printHelp(e.stdout, newFlags(e, name))
	return true
}
