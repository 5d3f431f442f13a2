// Package scriptapi mounts Tetra's script routes on the API server:
// POST /api/script/execute, StackState's script endpoint, with its request
// ({script, timeoutMs, argumentsScript}) and response ({result: {_type,
// value}}) shapes and its typed error documents (scriptrt.ErrorBody),
// answered with the statuses of StackState's spec (400, 408 for a timeout,
// 500 for a server fault).
//
// A request flows through the server's authorization (role script), the
// timeout bounds (Config.Timeout by default, at most Config.MaxTimeout),
// one of Config.MaxConcurrent script slots (429 when none is free, so a
// flood of slow scripts cannot take every core), then scriptrt.Runtime.Run
// with the key's scope: every query and every write of the script stays
// inside it. What a script writes (Health.set, Events.emit) goes to
// Config.Sink when the run succeeds.
package scriptapi
