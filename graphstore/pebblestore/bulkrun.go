package pebblestore

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// runKV is what a run of the bulk loader writes: every key and value in a
// few large chunks, and one entry per write that refers to them. The
// entries hold no pointers, so the garbage collector never scans the
// millions of them, and sorting moves 32 bytes per write.
type runKV struct {
	chunks [][]byte // the last one is being filled
	spare  [][]byte // chunks of an earlier run, emptied, to fill again
	ents   []kvEntry
	bytes  int // the run's memory: its writes (kv) and what the loader counts beside them
	kv     int // the memory of the writes in ents
	// spills are the parts of the run written out, each sorted, when its
	// writes outgrew the budget in the middle of a batch (spill), oldest
	// first; writeTables merges them with the writes in memory.
	spills []*spill
}

// spill is a part of a run's writes in a file of its own: each table's
// writes (the last of each key), sorted, one after the other, each as a
// record (key length and value length with the deletion bit as uvarints,
// then the key and the value).
type spill struct {
	path   string
	tables map[uint16]spillRange // by table (tableOf)
}

type spillRange struct {
	off, end int64 // the table's records in the file
	n        int   // how many
}

// reset empties the run, keeping its chunks and entries for the next.
// Its spills must have been removed.
func (r *runKV) reset() {
	r.resetWrites()
	r.bytes = 0
	r.spills = r.spills[:0]
}

// resetWrites empties the run's writes in memory, keeping its chunks and
// entries.
func (r *runKV) resetWrites() {
	for _, c := range r.chunks {
		if cap(c) == runChunk { // a chunk made for one large write is left to the collector
			r.spare = append(r.spare, c[:0])
		}
	}
	r.chunks = r.chunks[:0]
	r.ents = r.ents[:0]
	r.bytes -= r.kv
	r.kv = 0
}

// kvEntry is one write of a run.
type kvEntry struct {
	pfx        uint64 // the key's bytes 2 to 9, big-endian, zero-padded: most comparisons end here
	chunk, off uint32 // where the key starts; its value follows it
	klen, vlen uint32
	seq        int32  // order of the write in the run: the last write of a key wins
	bucket     uint16 // the key's first two bytes (see bucketOf)
	del        bool
}

// runChunk is the size of a run's chunks.
const runChunk = 4 << 20

// start returns an empty slice at the end of the current chunk to append a
// key and its value to; finish takes them in.
func (r *runKV) start() []byte {
	if len(r.chunks) == 0 || cap(r.cur())-len(r.cur()) < 64<<10 {
		r.chunks = append(r.chunks, r.chunk())
	}
	c := r.cur()
	return c[len(c):len(c)]
}

func (r *runKV) cur() []byte { return r.chunks[len(r.chunks)-1] }

// chunk returns an empty chunk, a spare one if there is one.
func (r *runKV) chunk() []byte {
	if n := len(r.spare); n > 0 {
		c := r.spare[n-1]
		r.spare = r.spare[:n-1]
		return c
	}
	return make([]byte, 0, runChunk)
}

// finish records the write of b[:klen] (the key) with value b[klen:], b
// having been built by appending to start(). A key and value that
// outgrew the chunk are copied into one of their own.
func (r *runKV) finish(b []byte, klen int, del bool) {
	c := r.cur()
	n := len(c)
	if len(b) <= cap(c)-n && &c[:n+1][n] == &b[0] {
		c = c[:n+len(b)] // b lies at the end of the chunk
	} else {
		if len(b) > cap(c)-n {
			nc := r.chunk()
			if len(b) > runChunk {
				r.spare = append(r.spare, nc)
				nc = make([]byte, 0, len(b))
			}
			r.chunks = append(r.chunks, nc)
			c, n = r.cur(), 0
		}
		c = append(c, b...)
	}
	r.chunks[len(r.chunks)-1] = c
	r.ents = append(r.ents, kvEntry{
		pfx: keyPrefix(c[n : n+klen]), bucket: bucketOf(c[n : n+klen]), chunk: uint32(len(r.chunks) - 1), off: uint32(n),
		klen: uint32(klen), vlen: uint32(len(b) - klen), seq: int32(len(r.ents)), del: del,
	})
	r.bytes += len(b) + 40
	r.kv += len(b) + 40
}

func (r *runKV) set(k, v []byte) {
	b := append(append(r.start(), k...), v...)
	r.finish(b, len(k), false)
}

func (r *runKV) del(k []byte) {
	r.finish(append(r.start(), k...), len(k), true)
}

func (r *runKV) key(e *kvEntry) []byte {
	return r.chunks[e.chunk][e.off : e.off+e.klen : e.off+e.klen]
}

func (r *runKV) val(e *kvEntry) []byte {
	s := e.off + e.klen
	return r.chunks[e.chunk][s : s+e.vlen : s+e.vlen]
}

// keyPrefix is bytes 2 to 9 of a key as a number; the first two bytes
// (table and index, or table and an id's top byte) are the key's bucket
// (see tables).
func keyPrefix(k []byte) uint64 { return keyDigit(k, 2) }

// keyDigit is the 8 bytes of a key from at on as a number, zero-padded.
func keyDigit(k []byte, at uint32) uint64 {
	if int(at)+8 <= len(k) { // most keys go on: read the digit in place (the copy below was 4% of a load)
		return binary.BigEndian.Uint64(k[at:])
	}
	var b [8]byte
	if int(at) < len(k) {
		copy(b[:], k[at:])
	}
	return binary.BigEndian.Uint64(b[:])
}

// bucketOf is a key's first two bytes as a number (a key of one byte is
// its byte followed by a zero, which orders it first as it should).
func bucketOf(k []byte) uint16 {
	if len(k) < 2 {
		return uint16(k[0]) << 8
	}
	return uint16(k[0])<<8 | uint16(k[1])
}

// sortWrites orders writes by key, then by order in the run (the last
// write of a key wins), comparing keys 8 bytes at a time as numbers held in
// the entries: a most-significant-digit radix sort whose digits are 8
// bytes. Writes are grouped by their keys' first 2 bytes (bucket; a
// table's range comes grouped, see tables), then ordered by the next 8
// (pfx) a byte at a time in place (radix), and each group that ties on
// those and whose keys go on by the next 8, and so on; groups of fewer than
// radixMin writes are compared as numbers instead (sortSmall). Sorting by
// bytes.Compare read both keys from the chunks at every comparison, n log n
// scattered reads: most of the sort, and a sixth of a first load's CPU;
// comparing the numbers (pdqsort) was still a seventh of the loader's CPU,
// about twice what the radix passes take. The entries' pfx holds the last
// digit compared afterwards.
func (r *runKV) sortWrites(ents []kvEntry) {
	byBucket := func(a, b kvEntry) int { return cmp.Compare(a.bucket, b.bucket) }
	if !slices.IsSortedFunc(ents, byBucket) {
		slices.SortFunc(ents, byBucket)
	}
	for i := 0; i < len(ents); {
		j := i + 1
		for j < len(ents) && ents[j].bucket == ents[i].bucket {
			j++
		}
		r.radix(ents[i:j], 2, 56)
		i = j
	}
}

// radixMin is the smallest group that radix sorts by bytes; smaller ones
// are sorted by comparison (sortSmall).
const radixMin = 64

// radix sorts writes whose keys tie on their first at bytes and on the
// bits of the digit at (pfx) above shift+8, by the rest: one pass of an
// American flag sort per byte of the digit, in place.
func (r *runKV) radix(g []kvEntry, at uint32, shift uint) {
	for {
		if len(g) < radixMin {
			r.sortSmall(g, at)
			return
		}
		var counts [256]int
		for i := range g {
			counts[byte(g[i].pfx>>shift)]++
		}
		if counts[byte(g[0].pfx>>shift)] == len(g) { // every key has this byte: on to the next
			if shift == 0 {
				r.sortDigitTies(g, at)
				return
			}
			shift -= 8
			continue
		}
		var starts, next [256]int
		sum := 0
		for b, n := range counts {
			starts[b] = sum
			sum += n
		}
		next = starts
		for b := range counts {
			end := starts[b] + counts[b]
			for i := next[b]; i < end; i = next[b] {
				e := g[i]
				for d := byte(e.pfx >> shift); int(d) != b; d = byte(e.pfx >> shift) { // carry it home, pick up what it displaces
					j := next[d]
					next[d]++
					g[j], e = e, g[j]
				}
				g[i] = e
				next[b]++
			}
		}
		for b, n := range counts {
			if n < 2 {
				continue
			}
			sub := g[starts[b] : starts[b]+n]
			if shift == 0 {
				r.sortDigitTies(sub, at)
			} else {
				r.radix(sub, at, shift-8)
			}
		}
		return
	}
}

// sortDigitTies sorts writes whose keys tie on their first at+8 bytes
// (zero-padded): the keys that end within them first, shorter before
// longer (a key padded with zeros precedes one with real zeros), each key's
// writes in order; then those that go on, by their next digit.
func (r *runKV) sortDigitTies(g []kvEntry, at uint32) {
	on := at + 8
	if slices.ContainsFunc(g, func(e kvEntry) bool { return e.klen <= on }) {
		slices.SortFunc(g, func(a, b kvEntry) int {
			return cmp.Or(cmp.Compare(min(a.klen, on+1), min(b.klen, on+1)), cmp.Compare(a.seq, b.seq))
		})
	}
	i := len(g)
	for i > 0 && g[i-1].klen > on {
		i--
	}
	if rest := g[i:]; len(rest) > 1 {
		for k := range rest {
			rest[k].pfx = keyDigit(r.key(&rest[k]), on)
		}
		r.radix(rest, on, 56)
	}
}

// sortSmall sorts a few writes whose keys tie on their first at bytes,
// comparing their digits at at as numbers (then sortTies).
func (r *runKV) sortSmall(g []kvEntry, at uint32) {
	slices.SortFunc(g, func(a, b kvEntry) int {
		if a.pfx != b.pfx {
			return cmp.Compare(a.pfx, b.pfx)
		}
		return cmp.Or(cmp.Compare(min(a.klen, at+9), min(b.klen, at+9)), cmp.Compare(a.seq, b.seq))
	})
	r.sortTies(g, at+8)
}

// sortTies sorts, within writes ordered by their keys' first end bytes,
// each group of keys that tie on those bytes and go on, by the rest.
// Within a group, min(klen-end, 9) orders a key that ends within the next
// digit before a longer one with the same bytes (9: it goes on beyond), so
// keys that tie on a digit and on that length are equal up to the group's
// longer keys, which recurse.
func (r *runKV) sortTies(ents []kvEntry, end uint32) {
	for i := 0; i < len(ents); {
		e := &ents[i]
		j := i + 1
		if e.klen > end {
			for j < len(ents) && ents[j].klen > end && ents[j].pfx == e.pfx && ents[j].bucket == e.bucket {
				j++
			}
		}
		if j-i > 1 {
			g := ents[i:j]
			for k := range g {
				g[k].pfx = keyDigit(r.key(&g[k]), end)
			}
			slices.SortFunc(g, func(a, b kvEntry) int {
				if a.pfx != b.pfx {
					return cmp.Compare(a.pfx, b.pfx)
				}
				return cmp.Or(cmp.Compare(min(a.klen-end, 9), min(b.klen-end, 9)), cmp.Compare(a.seq, b.seq))
			})
			r.sortTies(g, end+8)
		}
		i = j
	}
}

// tables orders the writes by bucket, in place, and returns the ranges of
// writes that become one table each: the postings and history entries of each index
// apart, each other table (versions, external ids, …) whole. Tables of
// distinct ranges never overlap, so they are sorted and written side by
// side, and Pebble places each at the lowest level it fits: on a store that
// holds no such keys yet, the bottom, where no compaction rewrites it.
func (r *runKV) tables() []tableRange {
	counts := make([]int32, 1<<16+1)
	for i := range r.ents {
		counts[int(r.ents[i].bucket)+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	starts := counts[:1<<16]
	placeByBucket(r.ents, starts, counts[1:])
	var out []tableRange
	for b := 0; b < 1<<16; {
		lo := int(starts[b])
		end := b + 1
		if tag := byte(b >> 8); tag != tagPosting && tag != tagHistory {
			end = (b>>8 + 1) << 8 // the whole table
		}
		hi := len(r.ents)
		if end < 1<<16 {
			hi = int(starts[end])
		}
		if hi > lo {
			out = append(out, tableRange{table: uint16(b), lo: lo, hi: hi})
		}
		b = end
	}
	return out
}

// tableRange is the writes of one table of a run: ents[lo:hi] in memory,
// and the table's writes in the run's spills.
type tableRange struct {
	table  uint16 // tableOf the writes' buckets
	lo, hi int
}

// tableOf returns the table a bucket's writes go to (see tables): its own
// for postings and history, its tag's otherwise.
func tableOf(bucket uint16) uint16 {
	if tag := byte(bucket >> 8); tag != tagPosting && tag != tagHistory {
		return bucket &^ 0xff
	}
	return bucket
}

// placeByBucket moves every write into its bucket's range, starts[b] to
// ends[b], in place (one pass of an American flag sort). Within a bucket the
// order is lost, which is fine: writeTable sorts each range by key and
// order in the run (kvEntry.seq). The counting sort it replaces needed a
// second array of entries, 64 MiB for a full run, whose first touch cost a
// first load more than the sort itself (a page fault per 4 KiB).
func placeByBucket(ents []kvEntry, starts, ends []int32) {
	next := slices.Clone(starts) // where each bucket's next write goes
	for b := range starts {
		for i := next[b]; i < ends[b]; i = next[b] {
			e := ents[i]
			for int(e.bucket) != b { // carry it home and pick up what it displaces
				j := next[e.bucket]
				next[e.bucket]++
				ents[j], e = e, ents[j]
			}
			ents[i] = e
			next[b]++
		}
	}
}

// writeTables sorts the run and writes it as tables under dir, on up to two
// goroutines (the machine's cores, at most), and returns their paths.
func (r *runKV) writeTables(ctx context.Context, fs vfs.FS, dir, name string, wo func() sstable.WriterOptions) ([]string, error) {
	ranges := r.tables()
	// A table whose writes are all in spills has no range in memory.
	for _, sp := range r.spills {
		for t := range sp.tables {
			if !slices.ContainsFunc(ranges, func(tr tableRange) bool { return tr.table == t }) {
				ranges = append(ranges, tableRange{table: t})
			}
		}
	}
	size := func(tr tableRange) int {
		n := tr.hi - tr.lo
		for _, sp := range r.spills {
			n += sp.tables[tr.table].n
		}
		return n
	}
	// The largest first, so the workers end together.
	order := make([]int, len(ranges))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Compare(size(ranges[b]), size(ranges[a]))
	})
	paths := make([]string, len(ranges))
	errs := make([]error, len(ranges))
	next := make(chan int, len(order))
	for _, i := range order {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range min(2, runtime.GOMAXPROCS(0), len(ranges)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					errs[i] = ctx.Err()
					continue
				}
				paths[i] = filepath.Join(dir, fmt.Sprintf("%s-%03d.sst", name, i))
				errs[i] = r.writeTable(fs, paths[i], ranges[i], wo())
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, p := range paths {
				if p != "" {
					fs.Remove(p)
				}
			}
			return nil, fmt.Errorf("pebblestore: bulk load: table %d: %w", i, err)
		}
	}
	return paths, nil
}

// writeTable sorts the writes of one table in memory and writes the last
// write of each key, merged with the table's writes in the run's spills
// (of a key written in several, the latest).
func (r *runKV) writeTable(fs vfs.FS, path string, tr tableRange, wo sstable.WriterOptions) error {
	ents := r.ents[tr.lo:tr.hi]
	r.sortWrites(ents)
	srcs := make([]*kvSource, 0, len(r.spills)+1)
	defer func() {
		for _, src := range srcs {
			src.close()
		}
	}()
	for _, sp := range r.spills {
		if sr, ok := sp.tables[tr.table]; ok {
			src, err := openSpill(fs, sp.path, sr)
			if err != nil {
				return err
			}
			srcs = append(srcs, src)
		}
	}
	srcs = append(srcs, &kvSource{r: r, ents: ents, i: -1}) // the latest
	for _, src := range srcs {
		if err := src.next(); err != nil {
			return err
		}
	}
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)
	for {
		best := -1
		for i, src := range srcs {
			if src.ok && (best < 0 || bytes.Compare(src.key, srcs[best].key) <= 0) {
				best = i // of equal keys, the latest source's
			}
		}
		if best < 0 {
			break
		}
		b := srcs[best]
		if b.del {
			err = w.Delete(b.key)
		} else {
			err = w.Set(b.key, b.val)
		}
		for i, src := range srcs[:best] { // the same key, written earlier
			if err == nil && src.ok && bytes.Equal(src.key, b.key) {
				err = srcs[i].next()
			}
		}
		if err == nil {
			err = b.next()
		}
		if err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}

// superseded reports whether a later write of the same key follows
// ents[i] (ents sorted by sortWrites).
func (r *runKV) superseded(ents []kvEntry, i int) bool {
	e := &ents[i]
	return i+1 < len(ents) && ents[i+1].klen == e.klen && ents[i+1].pfx == e.pfx && bytes.Equal(r.key(e), r.key(&ents[i+1]))
}

// kvSource is one sorted stream of a table's writes, each key once: the
// run's writes in memory (r) or a spill's records (rd).
type kvSource struct {
	key, val []byte
	del, ok  bool
	r        *runKV
	ents     []kvEntry
	i        int
	rd       *bufio.Reader
	f        vfs.File
	left     int // records not read yet
	buf      []byte
}

// next moves to the next write; ok is false after the last.
func (s *kvSource) next() error {
	if s.r != nil {
		s.i++
		for s.i < len(s.ents) && s.r.superseded(s.ents, s.i) {
			s.i++
		}
		if s.ok = s.i < len(s.ents); s.ok {
			e := &s.ents[s.i]
			s.key, s.val, s.del = s.r.key(e), s.r.val(e), e.del
		}
		return nil
	}
	if s.ok = s.left > 0; !s.ok {
		return nil
	}
	s.left--
	klen, err := binary.ReadUvarint(s.rd)
	if err != nil {
		return spillError(err)
	}
	vd, err := binary.ReadUvarint(s.rd)
	if err != nil {
		return spillError(err)
	}
	n := int(klen + vd>>1)
	if cap(s.buf) < n {
		s.buf = make([]byte, n, max(n, 2*cap(s.buf)))
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.rd, s.buf); err != nil {
		return spillError(err)
	}
	s.key, s.val, s.del = s.buf[:klen:klen], s.buf[klen:], vd&1 == 1
	return nil
}

func spillError(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading a spilled part of the run: %w", err)
}

func (s *kvSource) close() {
	if s.f != nil {
		s.f.Close()
	}
}

func openSpill(fs vfs.FS, path string, sr spillRange) (*kvSource, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, err
	}
	rd := bufio.NewReaderSize(io.NewSectionReader(f, sr.off, sr.end-sr.off), 256<<10)
	return &kvSource{rd: rd, f: f, left: sr.n}, nil
}

// spill writes the run's writes in memory to a file at path, each table's
// sorted (the last write of each key), and empties them: a first load
// applies a file of its input as one batch (a file of 400,000 elements
// made 4.8 million writes, several times a run's budget), and its writes
// stay out of memory until the batch ends and writeTables merges them
// into the run's tables, which are ingested together as before. The file
// is not synced: a crash before the ingest loses the batch whole, as it
// loses a run in memory.
func (r *runKV) spill(fs vfs.FS, path string) error {
	ranges := r.tables()
	var wg sync.WaitGroup
	next := make(chan tableRange, len(ranges))
	for _, tr := range ranges {
		next <- tr
	}
	close(next)
	for range min(2, runtime.GOMAXPROCS(0), len(ranges)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tr := range next {
				r.sortWrites(r.ents[tr.lo:tr.hi])
			}
		}()
	}
	wg.Wait()
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	sp := &spill{path: path, tables: make(map[uint16]spillRange, len(ranges))}
	bw := bufio.NewWriterSize(f, 1<<20)
	var off int64
	var hdr [2 * binary.MaxVarintLen64]byte
	for _, tr := range ranges {
		ents := r.ents[tr.lo:tr.hi]
		sr := spillRange{off: off}
		for i := range ents {
			if r.superseded(ents, i) {
				continue
			}
			e := &ents[i]
			vd := uint64(e.vlen) << 1
			if e.del {
				vd |= 1
			}
			n := binary.PutUvarint(hdr[:], uint64(e.klen))
			n += binary.PutUvarint(hdr[n:], vd)
			bw.Write(hdr[:n])
			bw.Write(r.key(e))
			bw.Write(r.val(e))
			off += int64(n) + int64(e.klen) + int64(e.vlen)
			sr.n++
		}
		sr.end = off
		sp.tables[tr.table] = sr
	}
	err = bw.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fs.Remove(path)
		return fmt.Errorf("pebblestore: bulk load: spilling a run: %w", err)
	}
	r.spills = append(r.spills, sp)
	r.resetWrites()
	return nil
}

// removeSpills deletes the run's spill files.
func (r *runKV) removeSpills(fs vfs.FS) {
	for _, sp := range r.spills {
		fs.Remove(sp.path)
	}
}
