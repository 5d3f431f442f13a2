package topogen

import (
	"fmt"
	"strings"
)

// IntakePayload is a StackState agent intake payload of n components and n
// relations (a ring) from agent, batch seq: the receivers' ingest
// benchmarks' payload. Every (agent, seq) has ids of its own, so a payload
// always writes new elements and nothing profits from locality.
func IntakePayload(agent, seq, n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `{"internalHostname":"bench-%d","topologies":[{"instance":{"type":"agent","url":"bench-%d"},"components":[`, agent, agent)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"externalId":"urn:bench:/%d/%d/%d","type":{"name":"service"},"data":{"name":"svc-%d-%d-%d","layer":"Services","labels":["agent:%d","batch:%d"],"identifiers":["urn:service:/svc-%d-%d-%d"]}}`,
			agent, seq, i, agent, seq, i, agent, seq, agent, seq, i)
	}
	b.WriteString(`],"relations":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"externalId":"r/%d/%d/%d","type":{"name":"calls"},"sourceId":"urn:bench:/%d/%d/%d","targetId":"urn:bench:/%d/%d/%d"}`,
			agent, seq, i, agent, seq, i, agent, seq, (i+1)%n)
	}
	b.WriteString(`]}]}`)
	return []byte(b.String())
}
