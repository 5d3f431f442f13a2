package kafkalog

import (
	"context"
	"errors"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tetrahq/tetra/ingest"
	"github.com/tetrahq/tetra/telemetry"
)

// The data consumer: metrics, events and spans are read by a consumer
// group (Config.DataGroup) and written to the node's data stores
// (Config.Data); the group's offsets are committed in Kafka only after the
// write returned. A consumer that stops between the two (a crash, a kill,
// a rebalance, a broker outage) leaves the records to be read again, by
// it or by the member that takes its partitions, and written again: the
// stores replace data under the same identity, so nothing is lost and
// nothing is stored twice.

// dataMsg is one record read from a data topic; rec is nil for a record
// that does not decode.
type dataMsg struct {
	msg kafka.Message
	rec *ingest.Record
}

// dataTopics are the topics of the kinds the node's data stores take.
func (n *Node) dataTopics() []string {
	var out []string
	for _, k := range n.cfg.Data.Kinds() {
		out = append(out, n.cfg.Topic(k))
	}
	return out
}

// consumeData runs the node's member of the data consumer group until the
// node stops: a fetch goroutine, and this one, which writes what was
// fetched in batches and commits each batch's offsets after its write.
func (n *Node) consumeData() {
	defer n.wg.Done()
	rc := n.readerConfig("kafka: data consumer", "group", n.cfg.DataGroup)
	rc.GroupID, rc.GroupTopics = n.cfg.DataGroup, n.dataTopics()
	// A group that has no offsets yet (a new cluster, a new node's own
	// group) reads the topics from their start; CommitInterval 0:
	// CommitMessages commits synchronously.
	rc.StartOffset, rc.CommitInterval = kafka.FirstOffset, 0
	r := kafka.NewReader(rc)
	fetched := make(chan dataMsg, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.fetchData(r, fetched)
	}()
	n.writeData(r, fetched)
	// Closing leaves the group: its partitions go to the other members
	// at once, from the offsets committed.
	r.Close()
	<-done
}

// fetchData reads records from the group's partitions until the node
// stops, retrying with backoff while the brokers are away.
func (n *Node) fetchData(r *kafka.Reader, out chan<- dataMsg) {
	bo := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	for {
		msg, err := r.FetchMessage(n.ctx)
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			n.cfg.Logger.Warn("kafka: the data consumer cannot read; retrying", "group", n.cfg.DataGroup, "err", err)
			if !sleep(n.ctx, bo.next()) {
				return
			}
			continue
		}
		bo.reset()
		m := dataMsg{msg: msg, rec: &ingest.Record{}}
		if err := m.rec.UnmarshalBinary(msg.Value); err != nil {
			// Committed with the batch, never written: no node could.
			n.cfg.Logger.Error("kafka: skipping an undecodable record", "topic", msg.Topic, "partition", msg.Partition,
				"offset", msg.Offset, "err", err)
			n.m.data.WithLabelValues(n.kindOf(msg.Topic), "undecodable").Inc()
			m.rec = nil
		}
		select {
		case out <- m:
		case <-n.ctx.Done():
			return
		}
	}
}

// writeData takes every record fetched (up to MaxBatch samples, events
// and spans), writes them, and commits their offsets.
func (n *Node) writeData(r *kafka.Reader, in <-chan dataMsg) {
	for {
		var first dataMsg
		select {
		case <-n.ctx.Done():
			return
		case first = <-in:
		}
		batch, elems := []dataMsg{first}, first.rec.Elements()
	fill:
		for elems < n.cfg.MaxBatch {
			select {
			case m := <-in:
				batch = append(batch, m)
				elems += m.rec.Elements()
			default:
				break fill
			}
		}
		if !n.writeBatch(batch) {
			return // stopped before the write: the batch is read again
		}
		n.commitData(r, batch)
	}
}

// writeBatch writes a batch's records to the data stores, retrying with
// backoff while a store fails; false when the node stops first.
func (n *Node) writeBatch(batch []dataMsg) bool {
	recs := make([]*ingest.Record, 0, len(batch))
	for _, m := range batch {
		if m.rec != nil {
			recs = append(recs, m.rec)
		}
	}
	if len(recs) == 0 {
		return true
	}
	bo := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	for {
		err := n.cfg.Data.Write(n.ctx, recs)
		switch {
		case err == nil:
			for _, m := range batch {
				if m.rec != nil {
					n.m.data.WithLabelValues(string(m.rec.Kind), "written").Inc()
				}
			}
			return true
		case n.ctx.Err() != nil:
			return false
		case errors.Is(err, telemetry.ErrInvalid) || errors.Is(err, ingest.ErrNoStore):
			return n.isolateData(batch, err)
		}
		n.cfg.Logger.Error("kafka: writing metrics, events or spans; retrying", "records", len(recs), "err", err)
		n.m.data.WithLabelValues("all", "failed").Add(float64(len(recs)))
		if !sleep(n.ctx, bo.next()) {
			return false
		}
	}
}

// isolateData writes a batch a store refused as invalid one record at a
// time, so that only the record it cannot take (it passed the receiver's
// checks, so this is a bug, but it must not stop the cluster's consumer)
// is skipped, logged with its position for a replay.
func (n *Node) isolateData(batch []dataMsg, err error) bool {
	if len(batch) > 1 {
		return eachAlone(batch, n.writeBatch)
	}
	m := batch[0].msg
	n.cfg.Logger.Error("kafka: a store refused a record; skipping it", "topic", m.Topic, "partition", m.Partition,
		"offset", m.Offset, "err", err)
	n.m.data.WithLabelValues(n.kindOf(m.Topic), "invalid").Inc()
	return true
}

// commitData commits a written batch's offsets. A commit that fails (a
// rebalance took the partition, the brokers went away) is logged: the
// records are read and written again, which stores them once.
func (n *Node) commitData(r *kafka.Reader, batch []dataMsg) {
	msgs := make([]kafka.Message, len(batch))
	for i, m := range batch {
		msgs[i] = m.msg
	}
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	if err := r.CommitMessages(ctx, msgs...); err != nil && n.ctx.Err() == nil {
		n.cfg.Logger.Warn("kafka: committing the data consumer's offsets failed; the records will be written again",
			"group", n.cfg.DataGroup, "records", len(msgs), "err", err)
		n.m.data.WithLabelValues("all", "uncommitted").Add(float64(len(msgs)))
	}
}

// kindOf returns the kind of a topic's records.
func (n *Node) kindOf(topic string) string {
	for _, k := range Kinds {
		if n.cfg.Topic(k) == topic {
			return string(k)
		}
	}
	return topic
}
