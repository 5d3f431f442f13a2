package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
)

// ValueCounts lists the values of a topology key that components carry
// (in the key's scope), starting with prefix, at most limit of them, with
// how many components carry each (GET /api/values with counts); at is a
// TQL time ("" for now). more says the server had more.
func (c *Client) ValueCounts(ctx context.Context, key, prefix string, limit int, at string) (vals []exec.ValueCount, more bool, err error) {
	q := url.Values{"key": {key}, "counts": {"true"}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if at != "" {
		q.Set("at", at)
	}
	out, err := getJSON[api.Values](ctx, c, "/api/values?"+q.Encode())
	if err != nil {
		return nil, false, err
	}
	vals = make([]exec.ValueCount, len(out.Values))
	for i, v := range out.Values {
		vals[i].Value = v
		if i < len(out.Counts) {
			vals[i].Components = out.Counts[i]
		}
	}
	return vals, out.More, nil
}

// Values lists values of a topology key that components carry now, for
// completion (GET /api/values).
func (c *Client) Values(ctx context.Context, key, prefix string, limit int) ([]string, error) {
	q := url.Values{"key": {key}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	out, err := getJSON[api.Values](ctx, c, "/api/values?"+q.Encode())
	if err != nil {
		return nil, err
	}
	return out.Values, nil
}

// Info returns what the server holds: its time span, counts by source and
// versions (GET /api/info).
func (c *Client) Info(ctx context.Context) (*api.Info, error) {
	return getJSON[api.Info](ctx, c, "/api/info")
}

// Health returns a component's own and propagated health with the check
// states and degraded dependencies behind them (GET
// /api/components/{id}/health) at at, a TQL time ("" for now). A component
// the server does not have then, or the key may not see, is an *api.Error
// of class not_found.
func (c *Client) Health(ctx context.Context, id uint64, at string) (*exec.ComponentHealth, error) {
	path := "/api/components/" + strconv.FormatUint(id, 10) + "/health"
	if at != "" {
		path += "?" + url.Values{"topologyTime": {at}}.Encode()
	}
	return getJSON[exec.ComponentHealth](ctx, c, path)
}

// AtParam writes a time for a request's at: RFC 3339 with nanoseconds in
// UTC, "" for the zero time (now).
func AtParam(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
