package telpebble

import (
	"math"
	"slices"

	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
)

// The head holds the samples not yet sealed into chunks, per window and
// series, in memory; the sample log holds the same samples durably until
// their window is sealed. Writers only ever append to a head chunk's
// slices, and sealing drops a whole window from the map, so a reader that
// copied a chunk's slice headers under the read lock may read them after
// releasing it. A sealed window's slices are used again for new head
// chunks only when no reader was open as it was dropped (see
// Store.readers): reusing memory already touched spares the page faults
// and garbage of fresh slices, a good part of an append's cost.

// headChunk is one series' unsealed samples in one window.
type headChunk struct {
	run []telemetry.Sample // strictly increasing times
	ooo []telemetry.Sample // samples at or before run's last time, in arrival order
	// lastT is run's last time (math.MinInt64 while empty), kept beside
	// the slice header: reading it from the slice cost a cache miss per
	// series and append. Writers only.
	lastT int64
}

func newHeadChunk(run []telemetry.Sample) *headChunk {
	return &headChunk{run: run, lastT: math.MinInt64}
}

// addAll adds samples, returning the latest time among them. A run that
// follows the chunk's in time, the common case, is appended in one copy.
func (c *headChunk) addAll(s []telemetry.Sample) int64 {
	last := c.lastT
	sorted := true
	for _, x := range s {
		sorted = sorted && x.T > last
		last = max(last, x.T)
	}
	if sorted {
		c.run = append(c.run, s...)
		c.lastT = last
		return last
	}
	for _, x := range s {
		if x.T > c.lastT {
			c.run = append(c.run, x)
			c.lastT = x.T
		} else {
			c.ooo = append(c.ooo, x)
		}
	}
	return last
}

func (c *headChunk) len() int { return len(c.run) + len(c.ooo) }

// headWindow is the unsealed samples of one window, by series id.
type headWindow struct {
	w        int64
	chunks   map[uint64]*headChunk
	samples  int
	firstSeq uint64 // the sample log record that began it
}

type head struct {
	windows map[int64]*headWindow
	free    [][]telemetry.Sample // empty run slices of a dropped window, to reuse
	samples int
	maxT    int64  // the latest sample time appended
	seq     uint64 // the sample log record being added (0: table 0x05)
	last    *headWindow
}

func newHead() *head { return &head{windows: map[int64]*headWindow{}} }

func (h *head) window(w int64) *headWindow {
	if h.last != nil && h.last.w == w {
		return h.last
	}
	hw := h.windows[w]
	if hw == nil {
		hw = &headWindow{w: w, chunks: map[uint64]*headChunk{}, firstSeq: h.seq}
		h.windows[w] = hw
	}
	h.last = hw
	return hw
}

// add appends samples of one series, all in window w.
func (h *head) add(w int64, id uint64, s []telemetry.Sample) {
	hw := h.window(w)
	h.addChunk(hw, h.chunk(hw, id), s)
}

// addTo is add for a writer holding the series' meta, which remembers its
// head chunk between appends. REQUIRES: Store.wmu.
func (h *head) addTo(m *seriesMeta, w int64, s []telemetry.Sample) {
	hw := h.window(w)
	if m.headWin != hw { // another window, or the window was sealed and begun again
		// A series mostly has as many samples in a window as in the one
		// before: room for those (and an eighth more) from the start
		// spares the copies and garbage of growing the slice.
		if m.headChunk != nil {
			m.headHint = m.headChunk.len()
		}
		hint := max(8, min(m.headHint+m.headHint/8, maxHeadHint))
		m.headWin, m.headChunk = hw, h.chunkCap(hw, m.id, hint)
	}
	h.addChunk(hw, m.headChunk, s)
}

// maxHeadHint bounds the room a head chunk is given before its samples
// arrive (a window at one sample a second).
const maxHeadHint = WindowMs / 1000

// chunk returns the window's chunk of a series, adding it when new.
func (h *head) chunk(hw *headWindow, id uint64) *headChunk { return h.chunkCap(hw, id, 8) }

// chunkCap is chunk, with room for n samples in a new chunk.
func (h *head) chunkCap(hw *headWindow, id uint64, n int) *headChunk {
	c := hw.chunks[id]
	if c == nil {
		c = newHeadChunk(h.runSlice(n))
		hw.chunks[id] = c
	}
	return c
}

// runSlice returns an empty slice with room for n samples, reused when
// one is free.
func (h *head) runSlice(n int) []telemetry.Sample {
	if k := len(h.free); k > 0 {
		s := h.free[k-1]
		h.free[k-1] = nil
		h.free = h.free[:k-1]
		if cap(s) >= n {
			return s
		}
	}
	return make([]telemetry.Sample, 0, n)
}

func (h *head) addChunk(hw *headWindow, c *headChunk, s []telemetry.Sample) {
	h.maxT = max(h.maxT, c.addAll(s))
	hw.samples += len(s)
	h.samples += len(s)
}

// drop forgets window w. With reuse (no reader can hold its slices), its
// run slices replace the free ones: the memory kept idle is at most one
// window's.
func (h *head) drop(w int64, reuse bool) {
	hw := h.windows[w]
	if hw == nil {
		return
	}
	h.samples -= hw.samples
	delete(h.windows, w)
	if h.last == hw {
		h.last = nil
	}
	if !reuse {
		return
	}
	clear(h.free)
	h.free = h.free[:0]
	for _, c := range hw.chunks {
		h.free = append(h.free, c.run[:0])
	}
}

// oldestSeq returns the oldest sample log record a window of the head
// began with (samples of table 0x05 count as 0), or next when the head is
// empty: the log before it is in chunks.
func (h *head) oldestSeq(next uint64) uint64 {
	for _, hw := range h.windows {
		next = min(next, hw.firstSeq)
	}
	return next
}

// sealable returns the windows that ended more than grace before the
// latest sample, oldest first.
func (h *head) sealable(grace int64) []int64 {
	var out []int64
	for w := range h.windows {
		if (w+1)*WindowMs+grace <= h.maxT {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

// all returns every window in the head, oldest first.
func (h *head) all() []int64 {
	out := make([]int64, 0, len(h.windows))
	for w := range h.windows {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

// view is a reader's copy of the head chunks it needs.
type view map[[2]uint64]headChunk

func (v view) get(w int64, id uint64) (headChunk, bool) {
	c, ok := v[[2]uint64{uint64(w), id}]
	return c, ok
}

// viewOf copies the slice headers of the chunks of ids in windows w0..w1.
// REQUIRES: Store.hmu held (read or write).
func (h *head) viewOf(ids []*seriesMeta, w0, w1 int64) view {
	v := view{}
	for w, hw := range h.windows {
		if w < w0 || w > w1 {
			continue
		}
		for _, m := range ids {
			if c := hw.chunks[m.id]; c != nil {
				v[[2]uint64{uint64(w), m.id}] = headChunk{run: c.run[:len(c.run):len(c.run)], ooo: c.ooo[:len(c.ooo):len(c.ooo)]}
			}
		}
	}
	return v
}

// sealed returns a head chunk's samples sorted by time, later arrivals
// winning at equal times.
func (c *headChunk) sealed() []telemetry.Sample {
	if len(c.ooo) == 0 {
		return c.run
	}
	return mergeRuns([][]telemetry.Sample{c.run, c.ooo})
}

// mergeRuns merges runs of samples, each in arrival order, where a later
// run was written after an earlier one: the result is sorted by time, and
// at equal times the sample of the latest run (and, within a run, the
// latest one) wins.
func mergeRuns(runs [][]telemetry.Sample) []telemetry.Sample {
	type ranked struct {
		telemetry.Sample
		rank int
	}
	n := 0
	for _, r := range runs {
		n += len(r)
	}
	all := make([]ranked, 0, n)
	for _, r := range runs {
		for _, x := range r {
			all = append(all, ranked{x, len(all)})
		}
	}
	slices.SortFunc(all, func(a, b ranked) int {
		if a.T != b.T {
			if a.T < b.T {
				return -1
			}
			return 1
		}
		return a.rank - b.rank
	})
	out := make([]telemetry.Sample, 0, n)
	for i, x := range all {
		if i+1 < len(all) && all[i+1].T == x.T {
			continue // a later sample for the same time wins
		}
		out = append(out, x.Sample)
	}
	return out
}

// ---- table 0x05: the log of builds before the sample log ----

// readWAL decodes a record and calls fn for each sample.
func readWAL(v []byte, fn func(id uint64, x telemetry.Sample)) error {
	r := kv.NewReader(v)
	n := r.Uvarint()
	if n > uint64(len(v)) {
		return kv.ErrCorrupt
	}
	var t int64
	for range n {
		id := r.Uvarint()
		t += r.Varint()
		val := r.Float()
		if r.Err() != nil {
			return r.Err()
		}
		fn(id, telemetry.Sample{T: t, V: val})
	}
	return r.Done()
}
