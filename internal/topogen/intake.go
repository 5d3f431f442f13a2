package topogen

import "strconv"

// IntakePayload is a StackState agent intake payload of n components and n
// relations (a ring) from agent, batch seq: the receivers' ingest
// benchmarks' payload. Every (agent, seq) has ids of its own, so a payload
// always writes new elements and nothing profits from locality.
func IntakePayload(agent, seq, n int) []byte {
	return AppendIntakePayload(nil, agent, seq, n)
}

// AppendIntakePayload appends IntakePayload(agent, seq, n) to dst. A
// benchmark's client that reuses its buffer makes a payload without
// garbage: the clients share the machine with the server they measure
// (formatting with fmt into a growing builder was a sixth of the bytes the
// intake benchmark's process allocated).
func AppendIntakePayload(dst []byte, agent, seq, n int) []byte {
	num := func(b []byte, v int) []byte { return strconv.AppendInt(b, int64(v), 10) }
	// path appends a/s/i with sep between them.
	path := func(b []byte, sep byte, a, s, i int) []byte {
		return num(append(num(append(num(b, a), sep), s), sep), i)
	}
	b := append(dst, `{"internalHostname":"bench-`...)
	b = num(b, agent)
	b = append(b, `","topologies":[{"instance":{"type":"agent","url":"bench-`...)
	b = num(b, agent)
	b = append(b, `"},"components":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = path(append(b, `{"externalId":"urn:bench:/`...), '/', agent, seq, i)
		b = path(append(b, `","type":{"name":"service"},"data":{"name":"svc-`...), '-', agent, seq, i)
		b = num(append(b, `","layer":"Services","labels":["agent:`...), agent)
		b = num(append(b, `","batch:`...), seq)
		b = path(append(b, `"],"identifiers":["urn:service:/svc-`...), '-', agent, seq, i)
		b = append(b, `"]}}`...)
	}
	b = append(b, `],"relations":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = path(append(b, `{"externalId":"r/`...), '/', agent, seq, i)
		b = path(append(b, `","type":{"name":"calls"},"sourceId":"urn:bench:/`...), '/', agent, seq, i)
		b = path(append(b, `","targetId":"urn:bench:/`...), '/', agent, seq, (i+1)%n)
		b = append(b, `"}`...)
	}
	return append(b, `]}]}`...)
}
