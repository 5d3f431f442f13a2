package tsz

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"

	"github.com/tetrahq/tetra/telemetry"
)

// Encoding names how a chunk's values are written.
type Encoding byte

const (
	XOR     Encoding = 1
	Delta   Encoding = 2
	Decimal Encoding = 3
)

func (e Encoding) String() string {
	switch e {
	case XOR:
		return "xor"
	case Delta:
		return "delta"
	case Decimal:
		return "decimal"
	}
	return fmt.Sprintf("encoding(%d)", byte(e))
}

// ErrCorrupt is a chunk that does not decode.
var ErrCorrupt = errors.New("tsz: corrupt chunk")

// Header is what a chunk says about itself without decoding its samples.
type Header struct {
	Encoding   Encoding
	Count      int
	MinT, MaxT int64
	// Summary is the chunk's values in brief; chunks written before
	// summaries existed have none (HasSummary false).
	Summary    Summary
	HasSummary bool
}

// Summary is what an aggregation over a whole chunk needs, so that a query
// whose buckets hold whole chunks reads headers and decodes nothing. NaN
// samples are no value: they count in Header.Count only.
type Summary struct {
	Values   int     // samples that are not NaN
	Min, Max float64 // of those values (plain comparisons: -0 and 0 are equal)
	Sum      float64 // of those values, added in time order
	Last     float64 // the value of the latest of them
	LastT    int64   // its time
}

// summaryFlag, set in a chunk's encoding byte, says a summary follows the
// span.
const summaryFlag = 0x80

// Summarize computes the summary of samples sorted by time.
func Summarize(samples []telemetry.Sample) Summary {
	s := Summary{Min: math.Inf(1), Max: math.Inf(-1)}
	for _, x := range samples {
		if x.V != x.V { // NaN
			continue
		}
		s.Values++
		if x.V < s.Min {
			s.Min = x.V
		}
		if x.V > s.Max {
			s.Max = x.V
		}
		s.Sum += x.V
		s.Last, s.LastT = x.V, x.T
	}
	return s
}

// appendSummary writes a summary: values:uvarint, then (when values > 0)
// min, max, sum and last as 8-byte floats and maxT − lastT as a uvarint.
func appendSummary(dst []byte, s Summary, maxT int64) []byte {
	dst = binary.AppendUvarint(dst, uint64(s.Values))
	if s.Values == 0 {
		return dst
	}
	for _, v := range [4]float64{s.Min, s.Max, s.Sum, s.Last} {
		dst = binary.BigEndian.AppendUint64(dst, math.Float64bits(v))
	}
	return binary.AppendUvarint(dst, uint64(maxT-s.LastT))
}

// WithoutSummary returns a chunk as builds before summaries wrote it (the
// format of data directories of version 1): for compatibility tests.
func WithoutSummary(c []byte) ([]byte, error) {
	h, end, err := ReadHeader(c)
	if err != nil || !h.HasSummary {
		return c, err
	}
	_, start, _ := ReadHeader(append([]byte{c[0] &^ summaryFlag}, c[1:]...))
	out := append([]byte{c[0] &^ summaryFlag}, c[1:start]...)
	return append(out, c[end:]...), nil
}

// readSummary decodes a summary of a chunk of h.Count samples up to
// h.MaxT, returning the bytes it took (≤ 0 when corrupt).
func readSummary(c []byte, h *Header) (Summary, int) {
	s := Summary{Min: math.Inf(1), Max: math.Inf(-1)}
	n, off := binary.Uvarint(c)
	if off <= 0 || n > uint64(h.Count) {
		return s, -1
	}
	s.Values = int(n)
	if n == 0 {
		return s, off
	}
	if len(c)-off < 32 {
		return s, -1
	}
	v := func(i int) float64 { return math.Float64frombits(binary.BigEndian.Uint64(c[off+8*i:])) }
	s.Min, s.Max, s.Sum, s.Last = v(0), v(1), v(2), v(3)
	off += 32
	back, k := binary.Uvarint(c[off:])
	if k <= 0 || back > uint64(h.MaxT-h.MinT) {
		return s, -1
	}
	s.LastT = h.MaxT - int64(back)
	return s, off + k
}

// Encode writes samples, which must have strictly increasing timestamps and
// be at least one, into a chunk appended to dst, in the smallest encoding.
// With only set, it uses that encoding (for tests and measurements;
// Decimal falls back to Delta when the values are not decimals).
func Encode(dst []byte, samples []telemetry.Sample, only Encoding) ([]byte, error) {
	var e Encoder
	return e.Encode(dst, samples, only)
}

// Encoder is Encode with scratch memory kept from one chunk to the next.
// The zero value is ready; not safe for concurrent use.
type Encoder struct {
	ts, xor, delta, dec []byte
}

// Encode is the package's Encode.
func (e *Encoder) Encode(dst []byte, samples []telemetry.Sample, only Encoding) ([]byte, error) {
	if len(samples) == 0 {
		return nil, errors.New("tsz: no samples")
	}
	for i := 1; i < len(samples); i++ {
		if samples[i].T <= samples[i-1].T {
			return nil, fmt.Errorf("tsz: timestamps not increasing at sample %d", i)
		}
	}
	e.ts = encodeTimes(e.ts[:0], samples)
	ts := e.ts
	var vals []byte
	enc := only
	switch only {
	case XOR:
		e.xor = encodeXOR(e.xor[:0], samples)
		vals = e.xor
	case Delta:
		e.delta = encodeDelta(e.delta[:0], samples)
		vals = e.delta
	case Decimal:
		var ok bool
		if e.dec, ok = encodeDecimal(e.dec[:0], samples); ok {
			vals = e.dec
		} else {
			e.delta = encodeDelta(e.delta[:0], samples)
			enc, vals = Delta, e.delta
		}
	default:
		enc, vals = e.smallest(samples)
	}
	maxT := samples[len(samples)-1].T
	dst = append(dst, byte(enc)|summaryFlag)
	dst = binary.AppendUvarint(dst, uint64(len(samples)))
	dst = binary.AppendVarint(dst, samples[0].T)
	dst = binary.AppendUvarint(dst, uint64(maxT-samples[0].T))
	dst = appendSummary(dst, Summarize(samples), maxT)
	dst = binary.AppendUvarint(dst, uint64(len(ts)))
	dst = append(dst, ts...)
	return append(dst, vals...), nil
}

// smallest returns the smallest encoding of the values. Decimal is tried
// first and whole (one value that is not a decimal rules it out, and it
// gives up there). When it fails, a long chunk is not encoded in both
// other encodings: XOR and Delta are tried on its first estimatePrefix
// samples, which stand for the rest (the shape of a series rarely changes
// within a chunk), and only the better is written whole. Full-precision
// values (a random walk), the costliest to encode, are spared one of the
// two encodings.
func (e *Encoder) smallest(samples []telemetry.Sample) (Encoding, []byte) {
	var dec bool
	e.dec, dec = encodeDecimal(e.dec[:0], samples)
	p := samples
	if !dec && len(samples) > 2*estimatePrefix {
		p = samples[:estimatePrefix]
	}
	e.xor = encodeXOR(e.xor[:0], p)
	e.delta = encodeDelta(e.delta[:0], p)
	enc, vals := XOR, e.xor
	if len(e.delta) < len(vals) {
		enc, vals = Delta, e.delta
	}
	switch {
	case dec && len(e.dec) < len(vals):
		return Decimal, e.dec
	case len(p) == len(samples):
		return enc, vals
	case enc == XOR:
		e.xor = encodeXOR(e.xor[:0], samples)
		return XOR, e.xor
	}
	e.delta = encodeDelta(e.delta[:0], samples)
	return Delta, e.delta
}

// estimatePrefix is how many samples smallest tries XOR and Delta on.
const estimatePrefix = 120

// ReadHeader decodes a chunk's header and returns the offset of its
// timestamp stream.
func ReadHeader(c []byte) (Header, int, error) {
	if len(c) < 4 {
		return Header{}, 0, ErrCorrupt
	}
	h := Header{Encoding: Encoding(c[0] &^ summaryFlag), HasSummary: c[0]&summaryFlag != 0}
	off := 1
	n, k := binary.Uvarint(c[off:])
	// Every sample after the first takes at least one bit of each stream:
	// a corrupt count cannot make Decode allocate beyond the chunk's size.
	if k <= 0 || n == 0 || n > uint64(len(c))*8+1 {
		return Header{}, 0, ErrCorrupt
	}
	off += k
	h.Count = int(n)
	minT, k := binary.Varint(c[off:])
	if k <= 0 {
		return Header{}, 0, ErrCorrupt
	}
	off += k
	span, k := binary.Uvarint(c[off:])
	if k <= 0 {
		return Header{}, 0, ErrCorrupt
	}
	off += k
	h.MinT, h.MaxT = minT, minT+int64(span)
	if h.MaxT < h.MinT {
		return Header{}, 0, ErrCorrupt
	}
	if h.HasSummary {
		if h.Summary, k = readSummary(c[off:], &h); k <= 0 {
			return Header{}, 0, ErrCorrupt
		}
		off += k
	}
	return h, off, nil
}

// Decode appends a chunk's samples to dst.
func Decode(dst []telemetry.Sample, c []byte) ([]telemetry.Sample, error) {
	h, off, err := ReadHeader(c)
	if err != nil {
		return dst, err
	}
	tsLen, k := binary.Uvarint(c[off:])
	if k <= 0 || uint64(len(c)-off-k) < tsLen {
		return dst, ErrCorrupt
	}
	off += k
	tsb, vb := c[off:off+int(tsLen)], c[off+int(tsLen):]
	start := len(dst)
	dst = grow(dst, h.Count)
	out := dst[start:]
	if !decodeTimes(out, h.MinT, tsb) {
		return dst[:start], ErrCorrupt
	}
	var ok bool
	switch h.Encoding {
	case XOR:
		ok = decodeXOR(out, vb)
	case Delta:
		ok = decodeDelta(out, vb)
	case Decimal:
		ok = decodeDecimal(out, vb)
	}
	if !ok || out[len(out)-1].T != h.MaxT {
		return dst[:start], ErrCorrupt
	}
	return dst, nil
}

func grow(s []telemetry.Sample, n int) []telemetry.Sample {
	if cap(s)-len(s) < n {
		ns := make([]telemetry.Sample, len(s), len(s)+n+len(s)/4)
		copy(ns, s)
		s = ns
	}
	return s[:len(s)+n]
}

// ---- timestamps: delta-of-delta with prefix-coded widths ----

// dodWidths are the signed widths of the delta-of-delta classes after the
// zero class: prefix 10, 110, 1110, 1111.
var dodWidths = [4]uint{8, 14, 20, 64}

func encodeTimes(dst []byte, s []telemetry.Sample) []byte {
	w := bitWriter{b: dst}
	prevT, prevD := s[0].T, int64(0)
	for _, x := range s[1:] {
		d := x.T - prevT
		dod := d - prevD
		prevT, prevD = x.T, d
		if dod == 0 {
			w.bit(false)
			continue
		}
		for i, width := range dodWidths {
			if i == 3 || fitsSigned(dod, width) {
				w.write(prefix(i), uint(i)+2-boolUint(i == 3))
				w.write(uint64(dod), width)
				break
			}
		}
	}
	return w.bytes()
}

// prefix returns the code of class i: 10, 110, 1110, 1111.
func prefix(i int) uint64 {
	return [4]uint64{0b10, 0b110, 0b1110, 0b1111}[i]
}

func boolUint(b bool) uint {
	if b {
		return 1
	}
	return 0
}

func fitsSigned(v int64, width uint) bool {
	lim := int64(1) << (width - 1)
	return v >= -lim && v < lim
}

func signExtend(v uint64, width uint) int64 {
	if width == 64 {
		return int64(v)
	}
	return int64(v<<(64-width)) >> (64 - width)
}

func decodeTimes(out []telemetry.Sample, first int64, b []byte) bool {
	r := newBitReader(b)
	out[0].T = first
	prevT, prevD := first, int64(0)
	for i := 1; i < len(out); {
		if r.nbuf < 57 {
			r.refill()
		}
		// A run of zero bits is a run of samples at the same interval
		// (most of a regular series): take it whole.
		if z := min(uint(bits.LeadingZeros64(r.buf)), r.nbuf, uint(len(out)-i)); z > 0 {
			for end := i + int(z); i < end; i++ {
				prevT += prevD
				out[i].T = prevT
			}
			r.buf <<= z
			r.nbuf -= z
			continue
		}
		if c := r.ones(4); c > 0 {
			width := dodWidths[c-1]
			prevD += signExtend(r.read(width), width)
		}
		prevT += prevD
		out[i].T = prevT
		i++
	}
	return !r.overrun
}

// ---- values: XOR ----

func encodeXOR(dst []byte, s []telemetry.Sample) []byte {
	w := bitWriter{b: dst}
	prev := math.Float64bits(s[0].V)
	w.write(prev, 64)
	lead, trail := uint(0xff), uint(0)
	for _, x := range s[1:] {
		cur := math.Float64bits(x.V)
		delta := cur ^ prev
		prev = cur
		if delta == 0 {
			w.bit(false)
			continue
		}
		l, t := uint(bits.LeadingZeros64(delta)), uint(bits.TrailingZeros64(delta))
		l = min(l, 31)
		if lead != 0xff && l >= lead && t >= trail {
			w.write(0b10, 2)
			w.write(delta>>trail, 64-lead-trail)
			continue
		}
		lead, trail = l, t
		sig := 64 - l - t
		w.write(0b11, 2)
		w.write(uint64(l), 5)
		w.write(uint64(sig&63), 6) // 64 is written as 0
		w.write(delta>>t, sig)
	}
	return w.bytes()
}

func decodeXOR(out []telemetry.Sample, b []byte) bool {
	r := newBitReader(b)
	prev := r.read(64)
	out[0].V = math.Float64frombits(prev)
	lead, trail := uint(0), uint(0)
	for i := 1; i < len(out); i++ {
		if r.bit() {
			if r.bit() {
				lead = uint(r.read(5))
				sig := uint(r.read(6))
				if sig == 0 {
					sig = 64
				}
				if lead+sig > 64 {
					return false
				}
				trail = 64 - lead - sig
			}
			prev ^= r.read(64-lead-trail) << trail
		}
		out[i].V = math.Float64frombits(prev)
	}
	return !r.overrun
}

// ---- values: adaptive-width deltas of integers (Delta and Decimal) ----

// ordered maps a float's bits to an integer whose order is the floats'
// numeric order (negative floats reversed below the positive ones).
func ordered(v float64) uint64 {
	b := math.Float64bits(v)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func unordered(u uint64) float64 {
	if u>>63 == 1 {
		return math.Float64frombits(u &^ (1 << 63))
	}
	return math.Float64frombits(^u)
}

// intWriter writes a sequence of integers as zig-zag deltas: 0 for an
// unchanged value, 10 and the delta in the current width, or 11, a new
// width (6 bits, minus one) and the delta in it. A new width is taken when
// the delta does not fit the current one or when the current one wastes
// more bits than announcing a narrower one costs.
type intWriter struct {
	w     bitWriter
	prev  uint64
	width uint
}

func (iw *intWriter) put(x uint64) {
	d := int64(x - iw.prev)
	iw.prev = x
	z := uint64(d<<1) ^ uint64(d>>63)
	if z == 0 {
		iw.w.bit(false)
		return
	}
	n := uint(bits.Len64(z))
	if n <= iw.width && iw.width-n <= 6 {
		iw.w.write(0b10, 2)
		iw.w.write(z, iw.width)
		return
	}
	iw.width = n
	iw.w.write(0b11, 2)
	iw.w.write(uint64(n-1), 6)
	iw.w.write(z, n)
}

type intReader struct {
	r     bitReader
	prev  uint64
	width uint
}

func (ir *intReader) next() uint64 {
	if ir.r.bit() {
		if ir.r.bit() {
			ir.width = uint(ir.r.read(6)) + 1
		}
		z := ir.r.read(ir.width)
		ir.prev += uint64(int64(z>>1) ^ -int64(z&1))
	}
	return ir.prev
}

// widthWriter writes a sequence of integers as zig-zag deltas whose bit
// width n is coded against a reference width r that follows the median of
// the widths seen (one step per value): full-precision noise has widths
// spread over a few neighbours of its median, and consecutive widths are
// independent, so coding n against r costs about three bits where a
// window that must hold the widest recent delta wastes more. The delta's
// top bit is implied by its width and not written.
//
//	00 n = r      01 n = r+1     100 n = r−1    101 n = r−2
//	1100 n = r−3  1101 n = r+2   1110 n−1 in 6 bits (and r = n)   1111 delta 0
type widthWriter struct {
	w    bitWriter
	prev uint64
	ref  uint
}

// widthCodes maps n−r+3 (for −3 … +2) to the code and its length.
var widthCodes = [6]struct {
	code uint64
	len  uint
}{{0b1100, 4}, {0b101, 3}, {0b100, 3}, {0b00, 2}, {0b01, 2}, {0b1101, 4}}

func (ww *widthWriter) put(x uint64) {
	d := int64(x - ww.prev)
	ww.prev = x
	z := uint64(d<<1) ^ uint64(d>>63)
	if z == 0 {
		ww.w.write(0b1111, 4)
		return
	}
	n := uint(bits.Len64(z))
	if k := int(n) - int(ww.ref) + 3; k >= 0 && k < len(widthCodes) {
		c := widthCodes[k]
		ww.w.write(c.code, c.len)
	} else {
		ww.w.write(0b1110, 4)
		ww.w.write(uint64(n-1), 6)
		ww.ref = n // a jump: start tracking from here
	}
	ww.w.write(z, n-1) // without the top bit
	switch {
	case n > ww.ref:
		ww.ref++
	case n < ww.ref:
		ww.ref--
	}
}

type widthReader struct {
	r    bitReader
	prev uint64
	ref  uint
}

// widthDecode maps the next four bits to the code they start with: its
// length and the width it gives relative to r (escape and zero apart).
var widthDecode = func() (t [16]struct {
	len   uint
	delta int
	kind  byte // 0: relative width, 1: escape, 2: zero delta
}) {
	for p := range t {
		switch {
		case p < 4:
			t[p].len, t[p].delta = 2, 0
		case p < 8:
			t[p].len, t[p].delta = 2, 1
		case p < 10:
			t[p].len, t[p].delta = 3, -1
		case p < 12:
			t[p].len, t[p].delta = 3, -2
		case p == 12:
			t[p].len, t[p].delta = 4, -3
		case p == 13:
			t[p].len, t[p].delta = 4, 2
		case p == 14:
			t[p].len, t[p].kind = 4, 1
		default:
			t[p].len, t[p].kind = 4, 2
		}
	}
	return t
}()

func (wr *widthReader) next() uint64 {
	r := &wr.r
	c := widthDecode[r.peek4()]
	r.skip(c.len)
	var n uint
	switch c.kind {
	case 0:
		n = uint(int(wr.ref) + c.delta)
	case 1:
		n = uint(r.read(6)) + 1
		wr.ref = n
	default:
		return wr.prev // unchanged
	}
	if n == 0 || n > 64 {
		r.overrun = true // a width the writer cannot have written
		return wr.prev
	}
	z := 1<<(n-1) | r.read(n-1)
	wr.prev += uint64(int64(z>>1) ^ -int64(z&1))
	switch {
	case n > wr.ref:
		wr.ref++
	case n < wr.ref:
		wr.ref--
	}
	return wr.prev
}

func encodeDelta(dst []byte, s []telemetry.Sample) []byte {
	ww := widthWriter{w: bitWriter{b: dst}}
	for _, x := range s {
		ww.put(ordered(x.V))
	}
	return ww.w.bytes()
}

func decodeDelta(out []telemetry.Sample, b []byte) bool {
	// The hot loop of every query: widthReader.next with the reader's
	// state in locals (registers), topped up to at least 57 bits before
	// each value so that the common case reads code and payload without
	// another refill.
	var buf uint64 // unread bits, left-aligned
	var nbuf uint  // how many
	off := 0       // next byte of b
	var prev uint64
	var ref uint
	for i := range out {
		if nbuf < 57 {
			if off+8 <= len(b) {
				v := binary.BigEndian.Uint64(b[off:])
				take := (64 - nbuf) >> 3
				buf |= v >> (64 - take*8) << (64 - nbuf - take*8)
				off += int(take)
				nbuf += take * 8
			} else {
				buf, nbuf, off = refillTail(b, buf, nbuf, off)
			}
		}
		c := widthDecode[buf>>60]
		if c.len > nbuf {
			return false
		}
		buf <<= c.len
		nbuf -= c.len
		var n uint
		switch c.kind {
		case 0:
			n = uint(int(ref) + c.delta)
		case 1:
			if nbuf < 6 {
				return false
			}
			n = uint(buf>>58) + 1
			buf <<= 6
			nbuf -= 6
			ref = n
		default:
			out[i].V = unordered(prev)
			continue
		}
		if n == 0 || n > 64 {
			return false
		}
		k := n - 1 // the top bit is implied
		var z uint64
		if k > nbuf {
			// Only after an escape to a width of more than 47 bits.
			hi := buf >> (64 - nbuf) // nbuf ≥ 47 > 0
			k -= nbuf
			buf, nbuf = 0, 0
			buf, nbuf, off = refillTail(b, buf, nbuf, off)
			if k > nbuf {
				return false
			}
			z = hi<<k | buf>>(64-k)
		} else if k > 0 {
			z = buf >> (64 - k)
		}
		buf <<= k
		nbuf -= k
		z |= 1 << (n - 1)
		prev += uint64(int64(z>>1) ^ -int64(z&1))
		switch {
		case n > ref:
			ref++
		case n < ref:
			ref--
		}
		out[i].V = unordered(prev)
	}
	return true
}

// refillTail tops buf up byte by byte (at most 64 bits): the end of a
// stream, where eight bytes may not remain.
func refillTail(b []byte, buf uint64, nbuf uint, off int) (uint64, uint, int) {
	for nbuf <= 56 && off < len(b) {
		buf |= uint64(b[off]) << (56 - nbuf)
		off++
		nbuf += 8
	}
	return buf, nbuf, off
}

// pow10 are the exact powers of ten a decimal chunk may scale by.
var pow10 = [16]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// decimalExp returns the smallest exponent e such that every value is an
// integer below 2^53 divided by 10^e, bit for bit; ok is false when there
// is none.
func decimalExp(s []telemetry.Sample) (int, bool) {
	e := 0
	for _, x := range s {
		for !isDecimal(x.V, e) {
			if e++; e == len(pow10) {
				return 0, false
			}
		}
	}
	return e, true
}

func isDecimal(v float64, e int) bool {
	m := v * pow10[e]
	if !(math.Abs(m) < 1<<53) { // also false for NaN
		return false
	}
	// Through int64, as decoding goes: -0 does not survive it.
	r := float64(int64(math.Round(m)))
	return math.Float64bits(r/pow10[e]) == math.Float64bits(v)
}

// encodeDecimal appends the values as decimals to dst; ok is false (and dst
// returned as it was) when they are not decimals.
func encodeDecimal(dst []byte, s []telemetry.Sample) (_ []byte, ok bool) {
	e, ok := decimalExp(s)
	if !ok {
		return dst, false
	}
	iw := intWriter{w: bitWriter{b: append(dst, byte(e))}}
	for _, x := range s {
		iw.put(uint64(int64(math.Round(x.V * pow10[e]))))
	}
	return iw.w.bytes(), true
}

func decodeDecimal(out []telemetry.Sample, b []byte) bool {
	if len(b) == 0 || int(b[0]) >= len(pow10) {
		return false
	}
	p := pow10[b[0]]
	ir := intReader{r: newBitReader(b[1:])}
	for i := range out {
		out[i].V = float64(int64(ir.next())) / p
	}
	return !ir.r.overrun
}
