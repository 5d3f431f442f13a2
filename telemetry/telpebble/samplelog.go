package telpebble

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/tetrahq/tetra/internal/kv"
	"github.com/tetrahq/tetra/telemetry"
)

// The sample log is the store's own write-ahead log of head samples, in
// files beside Pebble's (the directory log/ inside the store's): one
// record per append, written with one write and synced before the append
// returns, as Prometheus' WAL keeps its head. Pebble holds only what lasts
// (series, chunks), so a sample is written once to the log and once in a
// chunk, not also through Pebble's log, memtables and compactions.
//
// A record is
//
//	len:4 crc:4 seq:8 nseries:uvarint { series:uvarint n:uvarint { Δtime:varint value:8 }×n }×nseries
//
// (len and crc little-endian, crc the Castagnoli CRC-32 of what follows
// the header, Δtime the difference to the record's previous sample). A
// record that does not read whole (a power cut in its write) ends its
// file. Files are named by the sequence number of their first record and
// hold about logSegmentBytes; a file is deleted once every sample in it is
// sealed in chunks. Sealing window w records the last sequence number
// written then (table 0x07): replay skips a sample of w from a record at
// or before it.

// logDir is the sample log's directory inside the store's.
const logDir = "log"

// logSegmentBytes is the size past which the log moves to a new file:
// about an hour of 10,000 series at 10 s.
const logSegmentBytes = 64 << 20

// logHeader is the bytes before a record's payload: length and checksum.
const logHeader = 8

// maxLogRecord bounds a record (the length field is 32 bits): an append
// that could take more (about 55M samples) is refused before anything is
// written.
const maxLogRecord = 1 << 30

// maxSampleBytes and maxSeriesBytes bound what a sample and a series'
// header take in a record (varints of 64 bits take 10 bytes).
const (
	maxSampleBytes = binary.MaxVarintLen64 + 8
	maxSeriesBytes = 2 * binary.MaxVarintLen64
)

// checkSize refuses an append whose record could pass l.maxRecord.
func (l *sampleLog) checkSize(batch []telemetry.SeriesSamples) error {
	n := 8 + binary.MaxVarintLen64
	for i := range batch {
		n += maxSeriesBytes + maxSampleBytes*len(batch[i].Samples)
	}
	if n > l.maxRecord {
		return fmt.Errorf("telpebble: %w: an append of %d series could take %d bytes of log; the limit is %d: split it",
			telemetry.ErrInvalid, len(batch), n, l.maxRecord)
	}
	return nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// sampleLog appends records to the newest file of the log.
// REQUIRES: Store.wmu for every method.
type sampleLog struct {
	fs     vfs.FS
	dir    string
	noSync bool
	// segmentBytes is the size past which a new file begins
	// (logSegmentBytes; tests make it small).
	segmentBytes int64
	maxRecord    int      // maxLogRecord; tests make it small
	f            vfs.File // the file appended to; nil until the first append
	size         int64    // bytes written to f
	files        []logFile
	buf          []byte // the record being built
	dirMade      bool   // the directory exists, durably
}

// logFile is one file of the log.
type logFile struct {
	name  string
	first uint64 // sequence number of its first record
}

func logFileName(first uint64) string { return fmt.Sprintf("%016x.log", first) }

// listLog returns the log's files, oldest first (none when the directory
// does not exist).
func listLog(fs vfs.FS, dir string) ([]logFile, error) {
	names, err := fs.List(dir)
	if errors.Is(err, io.EOF) || isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []logFile
	for _, n := range names {
		hex, ok := strings.CutSuffix(n, ".log")
		if !ok || len(hex) != 16 {
			continue
		}
		first, err := strconv.ParseUint(hex, 16, 64)
		if err != nil {
			continue
		}
		out = append(out, logFile{name: n, first: first})
	}
	slices.SortFunc(out, func(a, b logFile) int { return cmp.Compare(a.first, b.first) })
	return out, nil
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// begin starts a record: room for the header and the sequence number.
func (l *sampleLog) begin(seq uint64) {
	l.buf = append(l.buf[:0], make([]byte, logHeader)...)
	l.buf = binary.LittleEndian.AppendUint64(l.buf, seq)
}

// encode appends the samples of an append (each entry's series id in ids)
// to the record begun.
func (l *sampleLog) encode(batch []telemetry.SeriesSamples, metas []*seriesMeta) {
	n := 0
	for i := range batch {
		n += len(batch[i].Samples)
	}
	b := slices.Grow(l.buf, 4*len(batch)+10*n+binary.MaxVarintLen64)
	b = binary.AppendUvarint(b, uint64(len(batch)))
	var prevT int64
	for i := range batch {
		s := batch[i].Samples
		b = binary.AppendUvarint(b, metas[i].id)
		b = binary.AppendUvarint(b, uint64(len(s)))
		for _, x := range s {
			b = binary.AppendVarint(b, x.T-prevT)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x.V))
			prevT = x.T
		}
	}
	l.buf = b
}

// write finishes the record begun and appends it to the log, synced
// unless noSync. seq is the record's sequence number (a new file starts
// with it). A failed write leaves no part of the record in the log as far
// as replay is concerned: the file is cut back, or given up for a new one.
func (l *sampleLog) write(seq uint64) error {
	payload := len(l.buf) - logHeader // ≤ maxRecord: see checkSize
	binary.LittleEndian.PutUint32(l.buf[0:], uint32(payload))
	binary.LittleEndian.PutUint32(l.buf[4:], crc32.Checksum(l.buf[logHeader:], crcTable))
	if l.f == nil || l.size >= l.segmentBytes {
		if err := l.rotate(seq); err != nil {
			return err
		}
	}
	_, err := l.f.Write(l.buf)
	if err == nil && !l.noSync {
		err = l.f.SyncData()
	}
	if err != nil {
		l.abandon()
		return fmt.Errorf("telpebble: sample log: %w", err)
	}
	l.size += int64(len(l.buf))
	return nil
}

// abandon gives up the current file after a failed write: the next
// record starts a new file, and replay ends the old one at the torn
// record (whose checksum cannot match).
func (l *sampleLog) abandon() {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// rotate closes the current file and creates the next, named by seq.
func (l *sampleLog) rotate(seq uint64) error {
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return fmt.Errorf("telpebble: sample log: %w", err)
		}
		l.f = nil
	}
	if err := l.makeDir(); err != nil {
		return fmt.Errorf("telpebble: sample log: %w", err)
	}
	name := logFileName(seq)
	f, err := l.fs.Create(l.fs.PathJoin(l.dir, name), vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("telpebble: sample log: %w", err)
	}
	if !l.noSync {
		// The file's directory entry must outlive a power cut as its
		// records do.
		if err := syncDir(l.fs, l.dir); err != nil {
			f.Close()
			return fmt.Errorf("telpebble: sample log: %w", err)
		}
	}
	l.f, l.size = f, 0
	l.files = append(l.files, logFile{name: name, first: seq})
	return nil
}

// makeDir creates the log's directory once, its entry in the store's
// directory made durable.
func (l *sampleLog) makeDir() error {
	if l.dirMade {
		return nil
	}
	if err := l.fs.MkdirAll(l.dir, 0o755); err != nil {
		return err
	}
	if !l.noSync {
		if err := syncDir(l.fs, l.fs.PathDir(l.dir)); err != nil {
			return err
		}
	}
	l.dirMade = true
	return nil
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// removeBefore deletes the files whose records all have sequence numbers
// below seq (the oldest record replay still needs). The file appended to
// stays.
func (l *sampleLog) removeBefore(seq uint64) error {
	n := 0
	for n+1 < len(l.files) && l.files[n+1].first <= seq {
		n++
	}
	for _, f := range l.files[:n] {
		if err := l.fs.Remove(l.fs.PathJoin(l.dir, f.name)); err != nil && !isNotExist(err) {
			return fmt.Errorf("telpebble: sample log: %w", err)
		}
	}
	l.files = slices.Delete(l.files, 0, n)
	return nil
}

func (l *sampleLog) close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// ---- replay ----

// readLog calls fn with each record of the log's files, oldest first. A
// record that does not read whole ends its file (the write a power cut
// tore); the files after it are read on.
func readLog(fs vfs.FS, dir string, files []logFile, fn func(seq uint64, payload []byte) error) error {
	for _, lf := range files {
		data, err := readFile(fs, fs.PathJoin(dir, lf.name))
		if err != nil {
			return fmt.Errorf("sample log %s: %w", lf.name, err)
		}
		for len(data) >= logHeader+8 {
			n := int(binary.LittleEndian.Uint32(data))
			if n < 8 || n > len(data)-logHeader {
				break
			}
			payload := data[logHeader : logHeader+n]
			if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(data[4:]) {
				break
			}
			if err := fn(binary.LittleEndian.Uint64(payload), payload[8:]); err != nil {
				return fmt.Errorf("sample log %s: %w", lf.name, err)
			}
			data = data[logHeader+n:]
		}
	}
	return nil
}

func readFile(fs vfs.FS, name string) ([]byte, error) {
	f, err := fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// readRecord decodes a record's samples and calls fn for each series'
// samples (fn must not keep the slice, which the next call reuses).
func readRecord(payload []byte, scratch []telemetry.Sample, fn func(id uint64, s []telemetry.Sample)) ([]telemetry.Sample, error) {
	r := kv.NewReader(payload)
	nser := r.Uvarint()
	var t int64
	for range nser {
		id := r.Uvarint()
		n := r.Uvarint()
		if r.Err() != nil || n > uint64(r.Len()) {
			return scratch, kv.ErrCorrupt
		}
		scratch = scratch[:0]
		for range n {
			t += r.Varint()
			v := r.Float()
			scratch = append(scratch, telemetry.Sample{T: t, V: v})
		}
		if r.Err() != nil {
			return scratch, r.Err()
		}
		fn(id, scratch)
	}
	return scratch, r.Done()
}

// replayLog puts the sample log's samples that are not yet in chunks back
// into the head: a sample of window w from record seq is skipped when the
// window was sealed after seq was written, or when retention has passed w.
func (s *Store) replayLog() error {
	files, err := listLog(s.o.FS, s.log.dir)
	if err != nil || len(files) == 0 {
		return err
	}
	sealed, err := s.loadSealed()
	if err != nil {
		return err
	}
	horizon, hasHorizon, err := s.getMeta("log_horizon")
	if err != nil {
		return err
	}
	var scratch []telemetry.Sample
	err = readLog(s.o.FS, s.log.dir, files, func(seq uint64, payload []byte) error {
		s.logSeq = max(s.logSeq, seq)
		s.head.seq = seq
		var err error
		scratch, err = readRecord(payload, scratch, func(id uint64, samples []telemetry.Sample) {
			if s.idx.byID[id] == nil {
				return // a series a power cut took with a store opened NoSync
			}
			for _, x := range samples {
				w := windowOf(x.T)
				if (hasHorizon && w < int64(horizon)) || seq <= sealed[w] {
					continue
				}
				s.head.add(w, id, []telemetry.Sample{x})
			}
		})
		return err
	})
	s.log.files = files
	return err
}

// loadSealed reads table 0x07: up to which record each window's logged
// samples are in chunks.
func (s *Store) loadSealed() (map[int64]uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagSealed}, UpperBound: []byte{tagSealed + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[int64]uint64{}
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) != 9 || len(it.Value()) != 8 {
			return nil, fmt.Errorf("sealed record %x: %w", it.Key(), kv.ErrCorrupt)
		}
		out[windowFromKey(it.Key()[1:])] = binary.BigEndian.Uint64(it.Value())
	}
	return out, it.Error()
}
