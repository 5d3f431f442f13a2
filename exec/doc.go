// Package exec runs logical plans from the planner against a read of the
// versioned topology graph. Operators stream sorted element ids
// (Next/At/Err/Close), honour context cancellation and a timeout, and count
// the elements they load against a limit that fails loudly instead of
// cutting results silently.
//
// exec owns the Reader interface it needs from storage; graphstore's
// implementations satisfy it.
package exec
