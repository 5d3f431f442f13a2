package scriptrt

import (
	"container/list"
	"errors"
	"strings"
	"sync"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// programCache keeps compiled scripts by name and source, least recently
// used first out. A goja Program is immutable and may run in many runtimes
// at once, so one compilation serves every run of the same script (a
// monitor that runs every minute compiles once). Safe for concurrent use.
type programCache struct {
	mu    sync.Mutex // guards everything below
	max   int
	order *list.List // of *cacheEntry, most recently used first
	byKey map[cacheKey]*list.Element
}

type cacheKey struct{ name, src string }

type cacheEntry struct {
	key cacheKey
	prg *goja.Program
}

// maxCachedSource is the longest script kept: a bigger one is compiled for
// each run, so that the cache holds at most DefaultCacheSize × 64 KiB of
// source and its programs.
const maxCachedSource = 64 << 10

func newProgramCache(max int) *programCache {
	return &programCache{max: max, order: list.New(), byKey: map[cacheKey]*list.Element{}}
}

// compile returns the compiled program of src, from the cache when it is
// there. A syntax error is a *SyntaxError and is not cached.
func (c *programCache) compile(name, src string) (*goja.Program, error) {
	key := cacheKey{name, src}
	c.mu.Lock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		prg := el.Value.(*cacheEntry).prg
		c.mu.Unlock()
		return prg, nil
	}
	c.mu.Unlock()
	// Compile outside the lock: two runs of a new script may both compile
	// it, which is cheaper than serialising every compilation.
	prg, err := compileScript(name, src)
	if err != nil || len(src) > maxCachedSource {
		return prg, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; !ok {
		c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, prg: prg})
		for c.order.Len() > c.max {
			last := c.order.Back()
			c.order.Remove(last)
			delete(c.byKey, last.Value.(*cacheEntry).key)
		}
	}
	return prg, nil
}

// len is how many programs the cache holds.
func (c *programCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// compileScript parses and compiles a script in non-strict mode (as
// StackState's examples are written), turning the parser's errors into a
// SyntaxError with every position.
func compileScript(name, src string) (*goja.Program, error) {
	// parser.ParseFile, not goja.Parse, which keeps only the first error's
	// text and no position.
	ast, err := parser.ParseFile(nil, name, src, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, syntaxError(err)
	}
	prg, err := goja.CompileAST(ast, false)
	if err != nil {
		return nil, syntaxError(err)
	}
	return prg, nil
}

// syntaxError converts goja's parse and compile errors.
func syntaxError(err error) error {
	var list parser.ErrorList
	if errors.As(err, &list) {
		out := &SyntaxError{}
		for _, e := range list {
			out.Errors = append(out.Errors, Problem{Message: e.Message, Line: e.Position.Line, Column: e.Position.Column})
		}
		return out
	}
	var one *parser.Error
	if errors.As(err, &one) {
		return &SyntaxError{Errors: []Problem{{Message: one.Message, Line: one.Position.Line, Column: one.Position.Column}}}
	}
	var ce *goja.CompilerSyntaxError
	if errors.As(err, &ce) {
		p := Problem{Message: ce.Message}
		if ce.File != nil {
			pos := ce.File.Position(ce.Offset)
			p.Line, p.Column = pos.Line, pos.Column
		}
		return &SyntaxError{Errors: []Problem{p}}
	}
	return &SyntaxError{Errors: []Problem{{Message: strings.TrimSpace(err.Error())}}}
}

// Check compiles a script without running it: nil, or a *SyntaxError with
// every error's position. Automations check their scripts when they are
// stored.
func Check(src string) error {
	_, err := compileScript("script", src)
	return err
}
