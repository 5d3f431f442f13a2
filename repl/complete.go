package repl

import (
	"slices"
	"strings"
	"unicode"

	"github.com/tetrahq/tetra/lang"
)

// completer proposes what may follow the text before the cursor: meta
// commands and their arguments, statement and clause keywords, keys,
// operators, functions and their arguments, and values: the closed sets
// the language knows and the values components carry, read through the
// backend. It works on the parser's own tokens (lang.Tokens), so a string
// being typed is recognised as one.
type completer struct {
	words  lang.Vocabulary
	values func(key, prefix string) []string // known values of a topology key, may be nil
	// pending is the statement's earlier lines.
	pending pendingText
}

func newCompleter(values func(key, prefix string) []string) *completer {
	return &completer{words: lang.Words(), values: values}
}

// complete returns the candidates for the word being typed at the end of
// text, each the whole word as it would read once completed, and the word
// typed so far, which every candidate extends (compared without regard to
// case).
func (c *completer) complete(text string) (cands []string, typed string) {
	if trimmed := strings.TrimLeft(text, " \t\n"); strings.HasPrefix(trimmed, ":") {
		return c.meta(trimmed)
	}
	return c.query(text)
}

// meta completes a meta command's name, then its argument.
func (c *completer) meta(text string) ([]string, string) {
	name, arg, hasArg := strings.Cut(text, " ")
	if !hasArg {
		var out []string
		for _, m := range metaOrder {
			out = append(out, m+" ")
		}
		return matching(out, name, false), name
	}
	cmd, ok := metaCommands[strings.ToLower(name)]
	if !ok {
		return nil, ""
	}
	if cmd.query {
		return c.query(arg)
	}
	word := arg[strings.LastIndexAny(arg, " \t")+1:]
	if strings.TrimSpace(arg[:len(arg)-len(word)]) != "" {
		return nil, "" // these commands take one argument
	}
	return matching(cmd.args, word, false), word
}

// query completes TQL.
func (c *completer) query(text string) ([]string, string) {
	toks, err := lang.Tokens(text)
	if err != nil {
		return nil, "" // a lexical error before the cursor: nothing sensible follows
	}
	typed := ""
	if n := len(toks); n > 0 && toks[n-1].Span.End == len(text) {
		last := toks[n-1]
		switch {
		case last.Kind == lang.TokenWord || last.Kind == lang.TokenBool || last.Open:
			typed, toks = last.Text, toks[:n-1]
		case last.Kind == lang.TokenString:
			return nil, "" // a closed string: the user moves on with a space
		}
	}
	st := walk(toks)
	return c.candidates(st, typed), typed
}

// candidates lists what may stand where the walk ended, as whole words,
// keeping those that extend typed.
func (c *completer) candidates(st *state, typed string) []string {
	var out []string
	switch st.exp {
	case expStatement:
		out = append(out, suffixed(c.words.Statements, " ")...)
		out = append(out, c.filterStart(st)...)
	case expFilter:
		out = c.filterStart(st)
	case expOperator:
		out = []string{"= ", "!= ", "IN (", "NOT IN ("}
		if st.data() {
			out = append(out, "< ", "<= ", "> ", ">= ")
		}
	case expNotIn:
		out = []string{"IN ("}
	case expValue:
		return c.valuesOf(st, typed)
	case expAfter:
		out = append([]string{"AND ", "OR ", "NOT "}, c.after(st)...)
	case expClause:
		out = c.after(st)
	case expSeparator:
		out = []string{", ", ")"}
	case expTime:
		out = []string{`"now"`, `"-15m"`, `"-1h"`, `"-24h"`, `"-7d"`}
	case expArgument:
		out = []string{"components = (", "levels = ", "direction = "}
	case expArgEquals:
		out = []string{"= "}
	case expArgValue:
		if st.key == "components" {
			out = []string{"("}
			break
		}
		out = quoted(c.words.ArgumentValues[st.key])
	case expKeyword:
		out = []string{st.key + " "}
	case expGroupKey:
		out = suffixed(fieldNames(c.words.Fields[st.stmt]), " ")
	case expAggregate:
		out = suffixed(c.words.Aggregations, " ")
	}
	return matching(out, typed, true)
}

// filterStart is what may start a filter: keys, functions, NOT and a
// parenthesis.
func (c *completer) filterStart(st *state) []string {
	var out []string
	if st.data() && !st.inTopology() {
		for _, name := range fieldNames(c.words.Fields[st.stmt]) {
			if !strings.HasSuffix(name, ".") { // attributes. and resource. go on with a name
				name += " "
			}
			out = append(out, name)
		}
	} else {
		out = suffixed(c.words.TopologyKeys, " ")
		out = append(out, suffixed(c.words.Functions, "(")...)
	}
	return append(out, "NOT ", "(")
}

// after is the clauses that may follow a whole filter (or a data
// statement's keyword), or the ) that closes it.
func (c *completer) after(st *state) []string {
	var out []string
	if len(st.frames) > 0 {
		return append(out, ")")
	}
	if !st.data() {
		return append(out, "AT ", "CHANGES FROM ")
	}
	// The clauses that may still come, in their order.
	order := c.words.Clauses[st.stmt]
	next := 0
	if i := slices.Index(order, st.clause); i >= 0 {
		next = i + 1
	}
	for _, kw := range order[next:] {
		switch kw {
		case "BY", "TO", "ASC", "DESC":
			continue // they follow another keyword, not a filter
		case "FOR":
			out = append(out, "FOR (")
		case "GROUP", "ORDER":
			out = append(out, kw+" BY ")
		default:
			out = append(out, kw+" ")
		}
	}
	return out
}

// valuesOf lists the values the key before the cursor may take: its closed
// set, or the values components carry, read through the backend. A value
// typed in quotes is completed inside them and closed; a bare one only
// with values that are bare words themselves.
func (c *completer) valuesOf(st *state, typed string) []string {
	key := strings.ToLower(st.key)
	var vals []string
	switch canon := c.words.KeyAliases[key]; {
	case st.data() && !st.inTopology():
		for _, f := range c.words.Fields[st.stmt] {
			if strings.EqualFold(f.Name, key) {
				vals = f.Values
			}
		}
	case canon == "healthstate":
		vals = c.words.HealthStates
	case canon != "" && canon != "id" && c.values != nil:
		vals = c.values(canon, unquotedPrefix(typed))
	}
	var out []string
	for _, v := range vals {
		switch {
		case typed == "":
			out = append(out, lang.Quote(v))
		case typed[0] == '"' || typed[0] == '\'':
			q := typed[:1]
			out = append(out, q+lang.Escape(v)+q)
		case isBareWord(v):
			out = append(out, v)
		}
	}
	return matching(out, typed, true)
}

// unquotedPrefix is the value typed so far: a string being typed without
// its quote and escapes, a bare word as it is.
func unquotedPrefix(typed string) string {
	if typed == "" || (typed[0] != '"' && typed[0] != '\'') {
		return typed
	}
	toks, err := lang.Tokens(typed)
	if err != nil || len(toks) != 1 {
		return ""
	}
	return toks[0].Value()
}

// isBareWord reports whether v can be written without quotes.
func isBareWord(v string) bool {
	toks, err := lang.Tokens(v)
	return err == nil && len(toks) == 1 && toks[0].Kind == lang.TokenWord && toks[0].Text == v
}

// matching keeps the candidates that extend typed, compared without regard
// to case. With keywordCase, an upper-case keyword typed in lower case is
// offered in lower case, so "an" completes to "and", not "anD".
func matching(cands []string, typed string, keywordCase bool) []string {
	lower := strings.ToLower(typed)
	lowerTyped := typed != "" && typed == lower && strings.IndexFunc(typed, unicode.IsLetter) >= 0
	var out []string
	for _, cand := range cands {
		if !strings.HasPrefix(strings.ToLower(cand), lower) || len(cand) < len(typed) {
			continue
		}
		if keywordCase && lowerTyped && cand == strings.ToUpper(cand) {
			cand = strings.ToLower(cand)
		}
		if !slices.Contains(out, cand) {
			out = append(out, cand)
		}
	}
	return out
}

func suffixed(words []string, suffix string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w + suffix
	}
	return out
}

func quoted(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = lang.Quote(w)
	}
	return out
}

func fieldNames(fields []lang.Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// setPending records the lines of the statement typed before the current
// one, the context of a completion on the current line.
// In a :script (JavaScript), nothing is completed.
func (c *completer) setPending(text string, script bool) {
	c.pending.mu.Lock()
	c.pending.text, c.pending.script = text, script
	c.pending.mu.Unlock()
}

// completeAt completes the current line in the context of the lines
// pending before it.
func (c *completer) completeAt(line string) ([]string, string) {
	c.pending.mu.Lock()
	pending, script := c.pending.text, c.pending.script
	c.pending.mu.Unlock()
	if script {
		return nil, ""
	}
	if pending != "" {
		line = pending + "\n" + line
	}
	return c.complete(line)
}
