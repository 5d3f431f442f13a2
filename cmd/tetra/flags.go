package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// flags is a command's flag set: the standard library's, which reports
// nothing itself. parseFlags prints requested help to stdout and a flag
// error as one line with a hint, as kubectl and git do, instead of the
// whole usage.
type flags struct {
	*flag.FlagSet
	e    *env
	name string // "query", or "key create" for a subcommand
}

// newFlags returns the flag set of the command name; its help (usage
// lines, description, examples) is helps[name].
func newFlags(e *env, name string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{FlagSet: fs, e: e, name: name}
}

// given reports the flags given on the command line.
func (fs *flags) given() map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// parseFlags parses flags wherever they appear among the arguments (the
// standard library stops at the first positional one) and returns the
// positional arguments. "--" ends flag parsing. For -h or --help it prints
// the command's help to stdout and returns flag.ErrHelp; for a bad flag it
// prints one line and a hint to stderr and returns the error.
func parseFlags(fs *flags, args []string) ([]string, error) {
	if c := fs.e.completing; c != nil {
		c.fs = fs
		return nil, errCompleting
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printHelp(fs.e.stdout, fs)
			} else {
				fmt.Fprintf(fs.e.stderr, "tetra %s: %s\n", fs.name, flagProblem(fs, err))
				fmt.Fprintf(fs.e.stderr, "Run 'tetra %s --help' for usage.\n", fs.name)
			}
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagStatus maps a flag parsing error to an exit status.
func flagStatus(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errCompleting) {
		return exitOK
	}
	return exitMisuse
}

// misuse reports a command-line mistake in one line, with where to find
// the usage, and returns exitMisuse.
func misuse(e *env, fs *flags, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "tetra %s: %s\n", fs.name, fmt.Sprintf(format, args...))
	fmt.Fprintf(e.stderr, "Run 'tetra %s --help' for usage.\n", fs.name)
	return exitMisuse
}

// The standard library's flag errors, which flagProblem rewrites.
var (
	reUndefined = regexp.MustCompile(`^flag provided but not defined: -+(.*)$`)
	reNeedsArg  = regexp.MustCompile(`^flag needs an argument: -+(.*)$`)
	reBadValue  = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]*): (.*)$`)
	reBadBool   = regexp.MustCompile(`^invalid boolean value "(.*)" for -+([^:]*): `)
	reBadSyntax = regexp.MustCompile(`^bad flag syntax: (.*)$`)
)

// flagProblem says in one line what is wrong with a flag, with flags
// written as --flag.
func flagProblem(fs *flags, err error) string {
	msg := err.Error()
	if m := reUndefined.FindStringSubmatch(msg); m != nil {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		hint := ""
		if best := closest(m[1], names); best != "" {
			hint = " (did you mean " + flagLabel(best) + "?)"
		}
		return "unknown flag " + flagLabel(m[1]) + hint
	}
	if m := reNeedsArg.FindStringSubmatch(msg); m != nil {
		arg := "a value"
		if f := fs.Lookup(m[1]); f != nil {
			if name, _ := flag.UnquoteUsage(f); name != "" {
				arg = name
			}
		}
		return fmt.Sprintf("%s needs %s after it", flagLabel(m[1]), arg)
	}
	if m := reBadValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s %s: %s", flagLabel(m[2]), m[1], valueProblem(m[3]))
	}
	if m := reBadBool.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s takes no value (it is on when given), not %q", flagLabel(m[2]), m[1])
	}
	if m := reBadSyntax.FindStringSubmatch(msg); m != nil {
		return "bad flag " + m[1]
	}
	return msg
}

// flagLabel writes a flag as the help shows it: -o, --output.
func flagLabel(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// valueProblem words the error of a flag's value: the standard
// library's number parsers only say "parse error".
func valueProblem(msg string) string {
	switch msg {
	case "parse error":
		return "want a whole number"
	case "value out of range":
		return "the number is out of range"
	}
	return msg
}

// didYouMean returns " (did you mean x?)" for the candidate closest to
// word, when one is close enough to be a likely typo.
func didYouMean(word string, candidates []string) string {
	if best := closest(word, candidates); best != "" {
		return " (did you mean " + best + "?)"
	}
	return ""
}

// closest returns the candidate a typo of word most likely meant, or "":
// a letter or two off, at most a third of the word, and never for words
// of one or two letters, which any other short word is as close to.
func closest(word string, candidates []string) string {
	if len(word) < 3 {
		return ""
	}
	best, bestDist := "", max(1, len(word)/3)+1
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of two words.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// durationValue is a duration flag whose error says how to write one: a
// bare number ("--timeout 5") gets "use a unit: 5s".
type durationValue time.Duration

func (d *durationValue) String() string { return (*time.Duration)(d).String() }

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err == nil {
		*d = durationValue(v)
		return nil
	}
	if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
		return fmt.Errorf("use a unit: %ss (or %sms, %sm, %sh)", s, s, s, s)
	}
	return fmt.Errorf("not a duration; write one as 500ms, 10s, 2m or 1h30m")
}

// durationFlag defines a duration flag with durationValue's errors.
func durationFlag(fs *flags, name string, def time.Duration, usage string) *time.Duration {
	d := def
	fs.Var((*durationValue)(&d), name, usage)
	return &d
}

// printFlags writes the flags as "--name ARG  usage (default x)", sorted,
// wrapped to 80 columns.
func printFlags(w io.Writer, fs *flags) {
	var rows [][2]string
	short := shortNames(fs)
	aliases := map[string]bool{}
	for _, s := range short {
		aliases[s] = true
	}
	fs.VisitAll(func(f *flag.Flag) {
		if aliases[f.Name] {
			return // shown with its long name: "-o, --output"
		}
		arg, usage := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if len(f.Name) == 1 {
			left = "-" + f.Name
		} else if s := short[f.Name]; s != "" {
			left = "-" + s + ", --" + f.Name
		}
		if _, isBool := f.Value.(interface{ IsBoolFlag() bool }); !isBool && arg == "" {
			arg = "VALUE"
		}
		if arg != "" {
			left += " " + arg
		}
		if def := f.DefValue; def != "" && def != "false" && def != "0" && def != "[]" && !strings.Contains(usage, "(default") {
			usage += fmt.Sprintf(" (default %s)", def)
		}
		rows = append(rows, [2]string{left, usage})
	})
	key := func(left string) string { // "-o, --output" sorts as "output"
		if i := strings.LastIndex(left, " --"); i >= 0 && strings.HasPrefix(left, "-") && !strings.HasPrefix(left, "--") {
			left = left[i+1:]
		}
		return strings.ToLower(strings.TrimLeft(left, "-"))
	}
	slices.SortFunc(rows, func(a, b [2]string) int { return strings.Compare(key(a[0]), key(b[0])) })
	const indent = 24
	for _, r := range rows {
		left := "  " + r[0]
		if len(left) >= indent-1 {
			fmt.Fprintln(w, left)
			left = ""
		}
		lines := wrap(r[1], 80-indent)
		for i, l := range lines {
			if i == 0 && left != "" {
				fmt.Fprintf(w, "%-*s%s\n", indent, left, l)
				continue
			}
			fmt.Fprintf(w, "%*s%s\n", indent, "", l)
		}
	}
}

// shortNames maps the long names of flags that also have a one-letter
// name to it ("output" to "o"): flags that share one *choiceValue.
func shortNames(fs *flags) map[string]string {
	m := map[string]string{}
	fs.VisitAll(func(short *flag.Flag) {
		sv, ok := short.Value.(*choiceValue)
		if len(short.Name) != 1 || !ok {
			return
		}
		fs.VisitAll(func(f *flag.Flag) {
			if lv, ok := f.Value.(*choiceValue); ok && lv == sv && len(f.Name) > 1 {
				m[f.Name] = short.Name
			}
		})
	})
	return m
}

// wrap breaks text into lines of at most width characters at spaces.
func wrap(text string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(text) {
		if cur.Len() > 0 && cur.Len()+1+len([]rune(word)) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}
