package pebblestore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
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
	bytes  int
}

// reset empties the run, keeping its chunks and entries for the next.
func (r *runKV) reset() {
	for _, c := range r.chunks {
		if cap(c) == runChunk { // a chunk made for one large write is left to the collector
			r.spare = append(r.spare, c[:0])
		}
	}
	r.chunks = r.chunks[:0]
	r.ents = r.ents[:0]
	r.bytes = 0
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
// bytes, each level a comparison sort of numbers. The writes are sorted by
// their keys' first 10 bytes (bucket and pfx); each group that ties there
// and whose keys go on is sorted by the next 8 bytes, and so on. Sorting by
// bytes.Compare read both keys from the chunks at every comparison, n log n
// scattered reads: most of the sort, and a sixth of a first load's CPU.
// The entries' pfx holds the last digit compared afterwards.
func (r *runKV) sortWrites(ents []kvEntry) {
	slices.SortFunc(ents, func(a, b kvEntry) int {
		switch {
		case a.bucket != b.bucket:
			return cmp.Compare(a.bucket, b.bucket)
		case a.pfx != b.pfx:
			return cmp.Compare(a.pfx, b.pfx)
		}
		return cmp.Or(cmp.Compare(min(a.klen, 11), min(b.klen, 11)), cmp.Compare(a.seq, b.seq))
	})
	r.sortTies(ents, 10)
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
func (r *runKV) tables() [][2]int {
	counts := make([]int32, 1<<16+1)
	for i := range r.ents {
		counts[int(r.ents[i].bucket)+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	starts := counts[:1<<16]
	placeByBucket(r.ents, starts, counts[1:])
	var out [][2]int
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
			out = append(out, [2]int{lo, hi})
		}
		b = end
	}
	return out
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
	// The largest first, so the workers end together.
	order := make([]int, len(ranges))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Compare(ranges[b][1]-ranges[b][0], ranges[a][1]-ranges[a][0])
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
				errs[i] = r.writeTable(fs, paths[i], r.ents[ranges[i][0]:ranges[i][1]], wo())
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

// writeTable sorts the writes of one range and writes the last write of
// each key.
func (r *runKV) writeTable(fs vfs.FS, path string, ents []kvEntry, wo sstable.WriterOptions) error {
	r.sortWrites(ents)
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), wo)
	for i := range ents {
		e := &ents[i]
		k := r.key(e)
		if i+1 < len(ents) && ents[i+1].klen == e.klen && ents[i+1].pfx == e.pfx && bytes.Equal(k, r.key(&ents[i+1])) {
			continue // a later write of the same key follows
		}
		if e.del {
			err = w.Delete(k)
		} else {
			err = w.Set(k, r.val(e))
		}
		if err != nil {
			w.Close()
			return err
		}
	}
	return w.Close()
}
