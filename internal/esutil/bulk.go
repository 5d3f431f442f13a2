package esutil

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Doc is one document of a bulk write: indexed (created or replaced) under
// its id, so writing it again is harmless.
type Doc struct {
	Index  string
	ID     string
	Source any
}

// bulkAnswer is the part of a bulk answer read here.
type bulkAnswer struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		ID     string `json:"_id"`
		Status int    `json:"status"`
		Error  struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"error"`
	} `json:"items"`
}

// BulkError lists the documents Elasticsearch refused for good.
type BulkError struct {
	Failed []string // "index/id: status type: reason"
}

func (e *BulkError) Error() string {
	more := ""
	if len(e.Failed) > 1 {
		more = fmt.Sprintf(" (and %d more)", len(e.Failed)-1)
	}
	return fmt.Sprintf("elasticsearch: bulk write: %s%s", e.Failed[0], more)
}

func (e *BulkError) Is(target error) bool { return target == ErrElastic }

// Bulk indexes docs and waits until they are visible to searches
// (refresh=wait_for). Items rejected for load (429) or by a failing shard
// (5xx) are sent again with backoff; a version conflict (409) means the
// document is there already (ids are idempotent) and counts as written.
// Any other refusal fails the call, naming the documents.
func (c *Client) Bulk(ctx context.Context, docs []Doc) error {
	for attempt := 0; len(docs) > 0; attempt++ {
		if attempt > 0 {
			if attempt > c.MaxItemRetries {
				return &BulkError{Failed: []string{fmt.Sprintf("%d documents still rejected for load after %d retries", len(docs), c.MaxItemRetries)}}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(c.Backoff(attempt)):
			}
		}
		retry, err := c.bulkOnce(ctx, docs)
		if err != nil {
			return err
		}
		docs = retry
	}
	return nil
}

// bulkOnce sends docs once and returns those to send again.
func (c *Client) bulkOnce(ctx context.Context, docs []Doc) ([]Doc, error) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	for _, d := range docs {
		if err := enc.Encode(map[string]any{"index": map[string]string{"_index": d.Index, "_id": d.ID}}); err != nil {
			return nil, err
		}
		if err := enc.Encode(d.Source); err != nil {
			return nil, fmt.Errorf("esutil: encoding document %s: %w", d.ID, err)
		}
	}
	var ans bulkAnswer
	if err := c.Do(ctx, http.MethodPost, "/_bulk?refresh=wait_for", body.Bytes(), &ans); err != nil {
		return nil, err
	}
	if !ans.Errors {
		return nil, nil
	}
	if len(ans.Items) != len(docs) {
		return nil, fmt.Errorf("%w: bulk answer has %d items for %d documents", ErrElastic, len(ans.Items), len(docs))
	}
	var retry []Doc
	var failed []string
	for i, item := range ans.Items {
		for _, r := range item { // one key: the action
			switch {
			case r.Status < 300 || r.Status == http.StatusConflict:
			case r.Status == http.StatusTooManyRequests || r.Status >= 500:
				retry = append(retry, docs[i])
			default:
				failed = append(failed, fmt.Sprintf("%s/%s: %d %s: %s", docs[i].Index, docs[i].ID, r.Status, r.Error.Type, strings.TrimSpace(r.Error.Reason)))
			}
		}
	}
	if len(failed) > 0 {
		return nil, &BulkError{Failed: failed}
	}
	return retry, nil
}
