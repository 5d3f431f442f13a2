package tsz

import "encoding/binary"

// bitWriter appends bits, most significant first, to a byte slice.
type bitWriter struct {
	b    []byte
	acc  uint64 // pending bits, left-aligned
	nacc uint   // number of pending bits (< 64)
}

// write appends the low n bits of v (n ≤ 64).
func (w *bitWriter) write(v uint64, n uint) {
	if n == 0 {
		return
	}
	if n < 64 {
		v &= 1<<n - 1
	}
	free := 64 - w.nacc
	if n < free {
		w.acc |= v << (free - n)
		w.nacc += n
		return
	}
	// Fill the accumulator, flush it, keep the rest.
	rest := n - free
	w.acc |= v >> rest
	w.b = binary.BigEndian.AppendUint64(w.b, w.acc)
	if rest == 0 {
		w.acc, w.nacc = 0, 0
		return
	}
	w.acc = v << (64 - rest)
	w.nacc = rest
}

func (w *bitWriter) bit(set bool) {
	if set {
		w.write(1, 1)
	} else {
		w.write(0, 1)
	}
}

// bytes flushes the pending bits (padded with zeros) and returns the
// buffer.
func (w *bitWriter) bytes() []byte {
	for n := w.nacc; n > 0; n -= min(n, 8) {
		w.b = append(w.b, byte(w.acc>>56))
		w.acc <<= 8
	}
	w.acc, w.nacc = 0, 0
	return w.b
}

// bitLen is the number of bits written so far.
func (w *bitWriter) bitLen() int { return len(w.b)*8 + int(w.nacc) }

// bitReader reads bits written by bitWriter. Reading past the end yields
// zeros and sets overrun, which decoders turn into an error.
type bitReader struct {
	b       []byte
	off     int    // next byte of b to load
	buf     uint64 // bits not yet consumed, left-aligned
	nbuf    uint   // valid bits in buf
	overrun bool
}

func newBitReader(b []byte) bitReader { return bitReader{b: b} }

// refill tops buf up to at least 57 bits where input remains.
func (r *bitReader) refill() {
	if r.off+8 <= len(r.b) {
		// Load 8 bytes and keep as many whole bytes as fit, placed right
		// after the bits still in buf.
		v := binary.BigEndian.Uint64(r.b[r.off:])
		take := (64 - r.nbuf) / 8
		r.buf |= (v >> (64 - take*8)) << (64 - r.nbuf - take*8)
		r.off += int(take)
		r.nbuf += take * 8
		return
	}
	for r.nbuf <= 56 && r.off < len(r.b) {
		r.buf |= uint64(r.b[r.off]) << (56 - r.nbuf)
		r.off++
		r.nbuf += 8
	}
}

// read returns the next n bits (n ≤ 64).
func (r *bitReader) read(n uint) uint64 {
	if n == 0 {
		return 0
	}
	if n <= r.nbuf {
		v := r.buf >> (64 - n)
		r.buf <<= n
		r.nbuf -= n
		return v
	}
	if n > 56 {
		hi := r.read(32)
		return hi<<(n-32) | r.read(n-32)
	}
	r.refill()
	if n > r.nbuf {
		r.overrun = true
		r.nbuf = n // read zeros
	}
	v := r.buf >> (64 - n)
	r.buf <<= n
	r.nbuf -= n
	return v
}

// peek4 returns the next four bits without consuming them (zeros past the
// end).
func (r *bitReader) peek4() uint64 {
	if r.nbuf < 4 {
		r.refill()
	}
	return r.buf >> 60
}

// skip consumes n bits that peek4 has made available.
func (r *bitReader) skip(n uint) {
	if n > r.nbuf {
		r.overrun = true
		r.buf, r.nbuf = 0, 0
		return
	}
	r.buf <<= n
	r.nbuf -= n
}

func (r *bitReader) bit() bool {
	if r.nbuf == 0 {
		r.refill()
		if r.nbuf == 0 {
			r.overrun = true
			return false
		}
	}
	v := r.buf>>63 == 1
	r.buf <<= 1
	r.nbuf--
	return v
}

// ones counts up to max leading one bits, consuming them and the zero that
// ends the run (when fewer than max): the prefix codes of the encodings.
func (r *bitReader) ones(max int) int {
	n := 0
	for n < max && r.bit() {
		n++
	}
	return n
}
