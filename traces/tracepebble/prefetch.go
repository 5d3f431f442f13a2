package tracepebble

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// A search reads its candidates one after the other: each costs a seek
// for its chunk and, once a span matches, seeks for its trace's chunks in
// the day before, its own and the day after, in every level of the LSM
// that holds chunks. With the blocks in Pebble's block cache those are
// microseconds; cold (a process that has just opened the store, its page
// cache taken by other work), each is a read from the disk (an index
// block and a data block per level), a couple of hundred reads one after
// the other for a search of twenty traces. Once a search's chunk reads
// have missed the block cache, the prefetcher issues the same reads for
// the candidates ahead of the search's cursor from several goroutines, so
// the disk serves them concurrently and the search finds its blocks in
// the block cache. It reads only what the search would read next: the
// keys of a candidate's trace in the days the search looks at.
//
// How far ahead is a trade: the search stops at its limit, and what was
// read past that is wasted; eight candidates keep eight reads in flight.
const (
	prefetchWorkers = 8
	prefetchAhead   = 8
)

// prefetchAlways makes every search prefetch from its first candidate
// (tests: their stores are in the block cache).
var prefetchAlways atomic.Bool

type prefetcher struct {
	snap  *pebble.Snapshot
	work  chan string     // a trace's chunk key prefix in one day
	seen  map[string]bool // traces submitted (the search's goroutine only)
	stop  atomic.Bool
	wg    sync.WaitGroup
	start sync.Once
}

func newPrefetcher(snap *pebble.Snapshot) *prefetcher {
	return &prefetcher{snap: snap, work: make(chan string, 3*prefetchAhead), seen: map[string]bool{}}
}

// submit asks for the chunks of r's trace in the days a search reads for
// it to be loaded; it never blocks: with every worker busy and the queue
// full, the search reads them itself.
func (p *prefetcher) submit(r ref) {
	if p.seen[r.tid] {
		return
	}
	p.seen[r.tid] = true
	p.start.Do(func() {
		for range prefetchWorkers {
			p.wg.Add(1)
			go p.worker()
		}
	})
	for day := dayOf(r.min) - 1; day <= dayOf(r.max)+1; day++ {
		select {
		case p.work <- string(tracePrefix(day, r.tid)):
		default:
			return
		}
	}
}

// worker loads the chunks under the prefixes it is given. Errors are
// left to the search, which reads the same keys and reports them.
func (p *prefetcher) worker() {
	defer p.wg.Done()
	it, err := p.snap.NewIter(&pebble.IterOptions{LowerBound: []byte{tagChunk}, UpperBound: []byte{tagChunk + 1}})
	if err != nil {
		for range p.work {
		}
		return
	}
	defer it.Close()
	for prefix := range p.work {
		if p.stop.Load() {
			continue
		}
		pre := []byte(prefix)
		for ok := it.SeekGE(pre); ok && bytes.HasPrefix(it.Key(), pre); ok = it.Next() {
			if _, err := it.ValueAndErr(); err != nil {
				break
			}
		}
	}
}

// close stops the workers (reads in flight finish) and waits for them:
// it must come before the snapshot is closed.
func (p *prefetcher) close() {
	p.stop.Store(true)
	close(p.work)
	p.wg.Wait()
}

// aheadSource yields what src yields, reading prefetchAhead refs ahead
// of its caller. Once cold says the search has had to read from the disk
// (with every block in Pebble's block cache the prefetch would only take
// CPU from the search), it submits those ahead in [lo, hi] to the
// prefetcher.
type aheadSource struct {
	src    refSource
	p      *prefetcher
	cold   func() bool
	lo, hi int64
	buf    []ref
	head   int // buf[head] is the next to yield
	sent   int // buf[:sent] is yielded or submitted
	done   bool
}

func (a *aheadSource) next() (ref, bool, error) {
	for !a.done && len(a.buf)-a.head < prefetchAhead {
		r, ok, err := a.src.next()
		if err != nil {
			return ref{}, false, err
		}
		if !ok {
			a.done = true
			break
		}
		if a.head >= prefetchAhead {
			a.buf = a.buf[:copy(a.buf, a.buf[a.head:])]
			a.sent, a.head = max(a.sent-a.head, 0), 0
		}
		a.buf = append(a.buf, r)
	}
	if a.head == len(a.buf) {
		return ref{}, false, nil
	}
	r := a.buf[a.head]
	a.head++
	if a.cold() {
		for a.sent = max(a.sent, a.head); a.sent < len(a.buf); a.sent++ {
			if r := a.buf[a.sent]; r.max >= a.lo && r.min <= a.hi {
				a.p.submit(r)
			}
		}
	}
	return r, true, nil
}

func (a *aheadSource) close() error { return a.src.close() }
