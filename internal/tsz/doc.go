// Package tsz encodes the samples of one time series into a compact chunk
// and back: timestamps as delta-of-deltas, values in the smallest of three
// encodings, chosen per chunk (Decimal where it applies and is smallest;
// between XOR and Delta, by their sizes on the chunk's first 120 samples,
// so that a long chunk is written whole once):
//
//   - XOR: each value XOR-ed with the previous one, the meaningful bits
//     written inside a window of leading and trailing zeros (Gorilla, as
//     Prometheus encodes floats). Best for values that repeat or change in
//     few bits.
//   - Delta: the float's bits mapped to an ordered integer (so that
//     numerically close values are close integers, across exponent
//     changes too), the zig-zag difference to the previous one written with
//     an adaptive bit width. Best for full-precision noisy values (a random
//     walk), where XOR pays for carries and for window changes.
//   - Decimal: when every value is an integer divided by a power of ten
//     (10^0 … 10^15) and survives the round trip bit for bit, the integers'
//     differences with the same adaptive width. Best for gauges with few
//     significant digits.
//
// Each chunk also carries a summary of its values (count of non-NaN values,
// min, max, sum, last), which answers an aggregation over the whole chunk
// without decoding it; chunks written before summaries existed have none
// and still decode.
//
// The chunk layout is drawn in docs/storage-format.md. A chunk holds samples
// with strictly increasing timestamps; Encode sorts and de-duplicates.
package tsz
