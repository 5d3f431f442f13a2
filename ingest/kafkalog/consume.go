package kafkalog

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/tetrahq/tetra/graphstore"
	"github.com/tetrahq/tetra/ingest"
)

// fetched is one record read from a partition, with its position.
type fetched struct {
	rec *ingest.Record
	pos ingest.Position
}

// consume reads one partition from the offset after the one the store
// committed, in order, and hands each record to the apply loop. The
// reader reconnects by itself, with backoff, when the brokers go away.
func (n *Node) consume(topic string, part int) {
	defer n.wg.Done()
	next := kafka.FirstOffset
	if off, ok := n.proc.Committed(topic, part); ok {
		next = off + 1
	}
	rc := n.readerConfig("kafka: reader", "topic", topic, "partition", part)
	rc.Topic, rc.Partition = topic, part
	r := kafka.NewReader(rc)
	defer r.Close()
	if err := r.SetOffset(next); err != nil {
		n.cfg.Logger.Error("kafka: setting the reader's offset", "topic", topic, "partition", part, "err", err)
		return
	}
	bo := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	for {
		msg, err := r.FetchMessage(n.ctx)
		if err != nil {
			if n.ctx.Err() != nil {
				return
			}
			n.cfg.Logger.Warn("kafka: reading a partition; retrying", "topic", topic, "partition", part, "err", err)
			if !sleep(n.ctx, bo.next()) {
				return
			}
			continue
		}
		bo.reset()
		rec := &ingest.Record{}
		if err := rec.UnmarshalBinary(msg.Value); err != nil {
			// A record no node can decode is skipped (its position is
			// committed with an empty record), not retried forever.
			n.cfg.Logger.Error("kafka: skipping an undecodable record", "topic", topic, "partition", part, "offset", msg.Offset, "err", err)
			n.m.records.WithLabelValues("undecodable").Inc()
			rec = &ingest.Record{Kind: ingest.KindTopology}
		}
		select {
		case n.batches <- fetched{rec: rec, pos: ingest.Position{Topic: topic, Partition: part, Offset: msg.Offset}}:
		case <-n.ctx.Done():
			return
		}
	}
}

// apply is the node's one topology writer: it takes every record waiting
// (up to MaxBatch elements) and applies them through the processor as one
// store commit, with their positions in the same batch.
func (n *Node) apply() {
	defer n.wg.Done()
	for {
		var first fetched
		select {
		case <-n.ctx.Done():
			return
		case first = <-n.batches:
		}
		batch, elems := []fetched{first}, first.rec.Elements()
	fill:
		for elems < n.cfg.MaxBatch {
			select {
			case f := <-n.batches:
				batch = append(batch, f)
				elems += f.rec.Elements()
			default:
				break fill
			}
		}
		if !n.commit(batch) {
			return
		}
	}
}

// readerConfig is the configuration every reader of the node shares;
// what its reader logs goes to the debug log with msg and attrs.
func (n *Node) readerConfig(msg string, attrs ...any) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:        n.cfg.Brokers,
		MinBytes:       1,
		MaxBytes:       n.cfg.MaxRecordBytes + 1<<20,
		MaxWait:        250 * time.Millisecond,
		ReadBackoffMin: 100 * time.Millisecond,
		ReadBackoffMax: 2 * time.Second,
		Dialer:         &kafka.Dialer{Timeout: 3 * time.Second},
		ErrorLogger: kafka.LoggerFunc(func(m string, args ...any) {
			n.cfg.Logger.Debug(msg, append(slices.Clip(attrs), "msg", m, "args", args)...)
		}),
	}
}

// commit applies one batch, retrying with backoff while the store fails;
// false when the node stops first (nothing of the batch was committed,
// and the next start reads it again).
func (n *Node) commit(batch []fetched) bool {
	recs := make([]*ingest.Record, len(batch))
	pos := make([]ingest.Position, len(batch))
	for i, f := range batch {
		recs[i], pos[i] = f.rec, f.pos
	}
	bo := backoff{min: 100 * time.Millisecond, max: 5 * time.Second}
	for {
		// Not n.ctx: a commit under way finishes when the node stops.
		res, err := n.proc.Process(context.Background(), recs, pos)
		if err == nil {
			n.count(res, pos)
			return true
		}
		var opErr *graphstore.OpError
		if errors.As(err, &opErr) {
			return n.isolate(batch, err)
		}
		n.cfg.Logger.Error("kafka: applying records to the store; retrying", "records", len(recs), "err", err)
		n.m.records.WithLabelValues("failed").Add(float64(len(recs)))
		if !sleep(n.ctx, bo.next()) {
			return false
		}
	}
}

// isolate applies a batch the store refused as invalid one record at a
// time, so that one record the store cannot take (it passed the
// receiver's checks, so this is a bug, but it must not stop the replica)
// is skipped alone: its position is committed with nothing, and it is
// logged with its position for a replay.
func (n *Node) isolate(batch []fetched, err error) bool {
	if len(batch) > 1 {
		return eachAlone(batch, n.commit)
	}
	f := batch[0]
	n.cfg.Logger.Error("kafka: the store refused a record; skipping it", "topic", f.pos.Topic, "partition", f.pos.Partition,
		"offset", f.pos.Offset, "err", err)
	n.m.records.WithLabelValues("invalid").Inc()
	return n.commit([]fetched{{rec: &ingest.Record{Kind: f.rec.Kind}, pos: f.pos}})
}

// eachAlone hands each element of batch to do as a batch of its own, in
// order; false as soon as do is (the node stopped).
func eachAlone[T any](batch []T, do func([]T) bool) bool {
	for i := range batch {
		if !do(batch[i : i+1]) {
			return false
		}
	}
	return true
}

func (n *Node) count(res []ingest.Result, pos []ingest.Position) {
	for i, r := range res {
		var refused *ingest.RefusedError
		switch {
		case r.Skipped:
			n.m.records.WithLabelValues("skipped").Inc()
		case errors.As(r.Err, &refused):
			// Every node refuses it alike (the same records in the same
			// order): logged, counted, and its position committed.
			n.cfg.Logger.Warn("kafka: a record was refused", "topic", pos[i].Topic, "partition", pos[i].Partition,
				"offset", pos[i].Offset, "err", r.Err)
			n.m.records.WithLabelValues("refused").Inc()
		default:
			n.m.records.WithLabelValues("applied").Inc()
		}
		n.m.applied(pos[i])
	}
}

// sleep waits d; false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
