package e2e

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
)

// A tour step is a block of README.md marked for the tour: a comment
// line "<!-- tour -->" (or "<!-- tour repl -->") right before a fenced
// block, optionally followed by a fenced output block.
//
//	<!-- tour -->
//	```sh
//	tetra query 'type = "database"'
//	```
//	```text
//	orders-db …
//	```
//
// A "tour" step's block holds shell commands (the test runs the tetra
// ones); a "tour repl" step's block is a REPL session, the lines after
// the prompt typed and the others expected on the screen. An output
// block's lines are patterns: "…" stands for any text, runs of spaces
// match any run of spaces, and the lines must appear in the output in
// their order (other lines may come between).
type Step struct {
	Kind   string   // "tour" or "tour repl"
	Line   int      // the marker's line in the file (1-based)
	Input  []string // the block's lines
	Output []string // the output block's lines, nil when there is none
}

// Name identifies a step in test output.
func (s Step) Name() string {
	first := ""
	if len(s.Input) > 0 {
		first = s.Input[0]
	}
	return fmt.Sprintf("README.md:%d %s", s.Line, first)
}

var marker = regexp.MustCompile(`^<!-- (tour(?: repl)?) -->$`)

// ParseTour reads the tour's steps from a README.
func ParseTour(r io.Reader) ([]Step, error) {
	sc := bufio.NewScanner(r)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var steps []Step
	for i := 0; i < len(lines); i++ {
		m := marker.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		st := Step{Kind: m[1], Line: i + 1}
		body, next, err := fenced(lines, i+1)
		if err != nil {
			return nil, fmt.Errorf("README.md:%d: %v", i+1, err)
		}
		st.Input = body
		if out, after, err := fenced(lines, next); err == nil {
			st.Output, next = out, after
		}
		steps = append(steps, st)
		i = next - 1
	}
	return steps, nil
}

// fenced reads the fenced block starting at line i: its lines and the
// index after its closing fence.
func fenced(lines []string, i int) ([]string, int, error) {
	if i >= len(lines) || !strings.HasPrefix(lines[i], "```") {
		return nil, i, fmt.Errorf("want a fenced block after the tour marker")
	}
	for j := i + 1; j < len(lines); j++ {
		if strings.HasPrefix(lines[j], "```") {
			return lines[i+1 : j], j + 1, nil
		}
	}
	return nil, i, fmt.Errorf("unterminated fenced block")
}

// Match checks that every pattern line appears in out, in order. It
// returns the first pattern line not found ("" when all are).
func Match(patterns []string, out string) string {
	got := strings.Split(out, "\n")
	j := 0
	for _, p := range patterns {
		if strings.TrimSpace(p) == "" {
			continue
		}
		re := patternRE(p)
		for ; j < len(got); j++ {
			if re.MatchString(got[j]) {
				break
			}
		}
		if j == len(got) {
			return p
		}
		j++
	}
	return ""
}

var spaces = regexp.MustCompile(`\s+`)

// patternRE turns a pattern line into a regular expression matching a
// whole output line. The spaces around an ellipsis are part of what it
// stands for: "… pod" matches "checkout-x pod" and ",pod".
func patternRE(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^\s*`)
	for i, part := range strings.Split(strings.TrimSpace(p), "…") {
		if i > 0 {
			b.WriteString(`.*`)
		}
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		for k, w := range spaces.Split(part, -1) {
			if k > 0 {
				b.WriteString(`\s+`)
			}
			b.WriteString(regexp.QuoteMeta(w))
		}
	}
	b.WriteString(`\s*$`)
	return regexp.MustCompile(b.String())
}

// Words splits a command line as a POSIX shell would for the tour's
// commands: words separated by spaces, '…' and "…" quoting (no
// expansion inside single quotes; $VAR and ${VAR} expanded by env outside
// them), a backslash escaping the next character outside single quotes.
func Words(line string, env func(string) string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated ' in %s", line)
			}
			cur.WriteString(string(rs[i+1 : j]))
			i, inWord = j, true
		case c == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
					cur.WriteRune(rs[j])
					continue
				}
				if rs[j] == '$' {
					name, n := varName(rs[j+1:])
					cur.WriteString(env(name))
					j += n
					continue
				}
				cur.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, fmt.Errorf("unterminated \" in %s", line)
			}
			i, inWord = j, true
		case c == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			inWord = true
		case c == '$':
			name, n := varName(rs[i+1:])
			cur.WriteString(env(name))
			i += n
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(rs) // a comment
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// varName reads a variable name after a $: NAME or {NAME}; it returns the
// name and how many runes it took.
func varName(rs []rune) (string, int) {
	if len(rs) > 0 && rs[0] == '{' {
		for j := 1; j < len(rs); j++ {
			if rs[j] == '}' {
				return string(rs[1:j]), j + 1
			}
		}
		return "", 0
	}
	j := 0
	for j < len(rs) && (rs[j] == '_' || rs[j] >= 'A' && rs[j] <= 'Z' || rs[j] >= 'a' && rs[j] <= 'z' || rs[j] >= '0' && rs[j] <= '9') {
		j++
	}
	return string(rs[:j]), j
}

// ShownNames returns the component names a step's output block shows, as
// patterns ("…" for what varies): the NAME column of the component tables
// (a header "ID NAME …" or "OP ID NAME …" and the rows under it), the
// lines of a `-o name` command, and the component label of metric series
// grouped by component. The test checks that REST and MCP answer them
// too, not only the tetra command.
func ShownNames(st Step) []string {
	oName := false
	for _, in := range st.Input {
		oName = oName || strings.Contains(in, " -o name ")
	}
	var names []string
	col := -1 // the NAME column of the table being read, -1 outside one
	for _, line := range st.Output {
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.Contains(line, " relations"): // the relations' part begins
			col = -1
		case f[0] == "ID" || f[0] == "OP" && len(f) > 1 && f[1] == "ID":
			col = slices.Index(f, "NAME")
		case col > 0 && col < len(f) && f[col] != "…" && (f[0] == "…" || len(f[0]) == 1):
			names = append(names, f[col])
		case col < 0 && oName && len(f) == 1 && f[0] != "…":
			names = append(names, f[0])
		default:
			for _, m := range seriesComponent.FindAllStringSubmatch(line, -1) {
				names = append(names, m[1])
			}
		}
	}
	return names
}

var seriesComponent = regexp.MustCompile(`\{component="([^"]+)"\}`)

// NameRE matches a name pattern of ShownNames as a whole word of a text:
// "…" stands for any run of characters but spaces.
func NameRE(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "…")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?:^|[\s"#\[(,{=])` + strings.Join(parts, `[^\s",\]]*`) + `(?:$|[\s"\]),}:;])`)
}
