// Package base is the machinery the product store (pebblestore) builds on
// and that is no part of graphstore's public surface: validating a batch
// (Normalize), planning it against the committed graph (PlanBatch: identity
// resolution, merging of sources, re-resolution of relations), the postings
// an element version is indexed under, stamping commit times, and the
// change feed over a store's log.
//
// The reference store (memstore) deliberately does not use PlanBatch,
// Postings or ChangesOf: it implements merging and resolution on its own, by
// brute force, so that a bug here cannot hide in both stores of the
// differential tests. It shares only Normalize (the validation of input),
// StampTime and the feed.
package base
