package telpebble

// SummarizedChunks returns how many chunks the store's reads have answered
// by their summaries, without decoding.
func SummarizedChunks(s *Store) int64 { return s.stats.summarized.Load() }
