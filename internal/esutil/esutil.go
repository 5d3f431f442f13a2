// Package esutil is the Elasticsearch machinery the telemetry and trace
// stores share: a client over go-elasticsearch's transport (nodes, auth,
// retries of whole requests on 429 and 5xx with backoff), bulk writes that
// retry the items Elasticsearch rejects for load, index templates, daily
// index names and their retention, searches, and the translation of
// telemetry filters to the query DSL.
package esutil

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
)

// Client talks to one Elasticsearch cluster. Safe for concurrent use.
type Client struct {
	es *elasticsearch.Client
	// Prefix starts every index and template name ("tetra").
	Prefix string
	// MaxItemRetries bounds the retries of bulk items rejected for load.
	MaxItemRetries int
	// Backoff returns the wait before retry n (from 1).
	Backoff func(n int) time.Duration
}

// Options configure a client.
type Options struct {
	URL      string // http://host:9200; user:password@ in the URL is used for basic auth
	Prefix   string // "tetra" when empty
	APIKey   string
	Username string
	Password string
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
	// MaxRetries bounds the retries of whole requests (4 when zero).
	MaxRetries int
}

// ErrElastic is the class of errors Elasticsearch answered with.
var ErrElastic = errors.New("elasticsearch")

// New returns a client.
func New(o Options) (*Client, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("esutil: bad Elasticsearch URL %q: want http(s)://host:port", o.URL)
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
		u.User = nil
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 4
	}
	backoff := func(n int) time.Duration {
		d := time.Duration(50<<min(n, 8)) * time.Millisecond
		return d/2 + rand.N(d/2+1) // jitter
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{u.String()}, Username: o.Username, Password: o.Password, APIKey: o.APIKey,
		Transport: o.Transport, RetryOnStatus: []int{429, 502, 503, 504}, MaxRetries: o.MaxRetries,
		RetryBackoff: backoff, DisableMetaHeader: true,
	})
	if err != nil {
		return nil, fmt.Errorf("esutil: %w", err)
	}
	if o.Prefix == "" {
		o.Prefix = "tetra"
	}
	return &Client{es: es, Prefix: o.Prefix, MaxItemRetries: 5, Backoff: backoff}, nil
}

// Do sends a request and decodes a JSON answer into out (when not nil).
// An answer of status ≥ 300 is an error of class ErrElastic carrying
// Elasticsearch's error type and reason.
func (c *Client) Do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		ct := "application/json"
		if strings.HasSuffix(strings.SplitN(path, "?", 2)[0], "_bulk") {
			ct = "application/x-ndjson"
		}
		req.Header.Set("Content-Type", ct)
	}
	res, err := c.es.Perform(req)
	if err != nil {
		return fmt.Errorf("%w: %s %s: %w", ErrElastic, method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%w: %s %s: reading the answer: %w", ErrElastic, method, path, err)
	}
	if res.StatusCode >= 300 {
		return &StatusError{Method: method, Path: path, Status: res.StatusCode, Type: errorType(b), Reason: errorReason(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%w: %s %s: decoding the answer: %w", ErrElastic, method, path, err)
		}
	}
	return nil
}

// StatusError is an answer of status ≥ 300.
type StatusError struct {
	Method, Path string
	Status       int
	Type, Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("elasticsearch: %s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Type, e.Reason)
}

func (e *StatusError) Is(target error) bool { return target == ErrElastic }

// errorBody is the error part of an Elasticsearch answer.
type errorBody struct {
	Error struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

func errorType(b []byte) string {
	var e errorBody
	json.Unmarshal(b, &e)
	return e.Error.Type
}

func errorReason(b []byte) string {
	var e errorBody
	if json.Unmarshal(b, &e) == nil && e.Error.Reason != "" {
		return e.Error.Reason
	}
	return strings.TrimSpace(string(b[:min(len(b), 300)]))
}

// ---- indices ----

// DayIndex is the name of a kind's index for the day of t (epoch ms).
func (c *Client) DayIndex(kind string, ms int64) string {
	return c.Prefix + "-" + kind + "-" + time.UnixMilli(ms).UTC().Format("2006.01.02")
}

// Indices returns the index expression a search of [start, end] (epoch ms)
// reads: the daily names for up to 31 days, else the kind's wildcard (the
// range filter does the rest).
func (c *Client) Indices(kind string, start, end int64) string {
	const day = 24 * 60 * 60 * 1000
	if end-start > 31*day {
		return c.Prefix + "-" + kind + "-*"
	}
	var names []string
	for d := start - start%day; d <= end; d += day {
		names = append(names, c.DayIndex(kind, d))
	}
	return strings.Join(names, ",")
}

// PutTemplate installs the index template of a kind: its mappings apply to
// every daily index created after.
func (c *Client) PutTemplate(ctx context.Context, kind string, mappings map[string]any) error {
	body, _ := json.Marshal(map[string]any{
		"index_patterns": []string{c.Prefix + "-" + kind + "-*"},
		"priority":       200,
		"template": map[string]any{
			"settings": map[string]any{"index": map[string]any{"number_of_shards": 1, "refresh_interval": "1s",
				"mapping": map[string]any{"total_fields": map[string]any{"limit": 10000}}}},
			"mappings": mappings,
		},
	})
	return c.Do(ctx, http.MethodPut, "/_index_template/"+c.Prefix+"-"+kind, body, nil)
}

// DropBefore deletes the kind's daily indices of days that ended before
// horizon (epoch ms) and returns their names.
func (c *Client) DropBefore(ctx context.Context, kind string, horizon int64) ([]string, error) {
	var rows []struct {
		Index string `json:"index"`
	}
	pattern := c.Prefix + "-" + kind + "-*"
	if err := c.Do(ctx, http.MethodGet, "/_cat/indices/"+pattern+"?format=json&h=index", nil, &rows); err != nil {
		var se *StatusError
		if errors.As(err, &se) && se.Status == http.StatusNotFound {
			return nil, nil
		}
		return nil, err
	}
	var old []string
	for _, r := range rows {
		day, err := time.Parse("2006.01.02", strings.TrimPrefix(r.Index, c.Prefix+"-"+kind+"-"))
		if err == nil && day.Add(24*time.Hour).UnixMilli() <= horizon {
			old = append(old, r.Index)
		}
	}
	slices.Sort(old)
	for _, name := range old {
		if err := c.Do(ctx, http.MethodDelete, "/"+name, nil, nil); err != nil {
			return nil, err
		}
	}
	return old, nil
}

// Search runs a search on an index expression.
func (c *Client) Search(ctx context.Context, indices string, body map[string]any, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	path := "/" + indices + "/_search?ignore_unavailable=true&allow_no_indices=true"
	return c.Do(ctx, http.MethodPost, path, b, out)
}
