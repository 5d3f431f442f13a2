// Package client is the Go client of Tetra's REST API (package api): it
// runs queries on a server and gives back what the embedded engine gives,
// an *exec.Result or an error that errors.As finds the engine's typed
// errors in (lang errors with their positions, *exec.LimitError,
// *exec.TimeoutError, exec.ErrUnsupported), so a caller prints the same
// whether it runs a query itself or asks a server. tetra query --server
// uses it; the shell, the MCP server and scripts will.
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tetrahq/tetra/api"
	"github.com/tetrahq/tetra/exec"
)

// Client talks to one Tetra server.
type Client struct {
	base *url.URL
	key  string
	hc   *http.Client
	// MaxResponseBytes bounds an answer the client reads (256 MiB by
	// default).
	MaxResponseBytes int64
}

// Options configure a client. The zero value is usable.
type Options struct {
	// Key is the API key sent as X-API-Key (none when empty).
	Key string
	// HTTPClient makes the requests (a client with no overall timeout
	// when nil: each call's context bounds it).
	HTTPClient *http.Client
}

// New returns a client of the server at baseURL (http or https; a bare
// host:port means http).
func New(baseURL string, o Options) (*Client, error) {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q: want http://host:port or https://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: u, key: o.Key, hc: hc, MaxResponseBytes: 256 << 20}, nil
}

// Query runs one statement (req.Query) on the server.
func (c *Client) Query(ctx context.Context, req api.QueryRequest) (*exec.Result, error) {
	body, err := c.do(ctx, http.MethodPost, "/api/query", req)
	if err != nil {
		return nil, err
	}
	return exec.DecodeJSON(body)
}

// QueryRaw runs one statement and returns the server's result document
// as it came: exactly what exec.AppendJSON wrote.
func (c *Client) QueryRaw(ctx context.Context, req api.QueryRequest) ([]byte, error) {
	return c.do(ctx, http.MethodPost, "/api/query", req)
}

// Explain returns a statement's plan drawn as text.
func (c *Client) Explain(ctx context.Context, req api.QueryRequest) (string, error) {
	body, err := c.do(ctx, http.MethodPost, "/api/explain", req)
	if err != nil {
		return "", err
	}
	var out api.ExplainResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return "", fmt.Errorf("client: reading the plan: %w", err)
	}
	return out.Plan, nil
}

// ServerInfo returns the server's StackState-shaped information.
func (c *Client) ServerInfo(ctx context.Context) (*api.ServerInfo, error) {
	return getJSON[api.ServerInfo](ctx, c, "/api/server/info")
}

// Whoami returns the caller's key as the server sees it.
func (c *Client) Whoami(ctx context.Context) (*api.Whoami, error) {
	return getJSON[api.Whoami](ctx, c, "/api/whoami")
}

// Ready returns nil when the server answers /readyz with 200, else an
// error saying why not.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/readyz", nil)
	return err
}

func getJSON[T any](ctx context.Context, c *Client, path string) (*T, error) {
	body, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	return decodeJSON[T](body, path)
}

func decodeJSON[T any](body []byte, path string) (*T, error) {
	var out T
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("client: reading %s: %w", path, err)
	}
	return &out, nil
}

// do sends a request and returns the body of a 2xx answer; any other
// answer becomes an error (an *api.Error when the server sent one).
func (c *Client) do(ctx context.Context, method, path string, in any) ([]byte, error) {
	status, body, err := c.send(ctx, method, path, in)
	if err != nil || status/100 == 2 {
		return body, err
	}
	return nil, decodeError(status, body)
}

// send sends a request and returns the answer's status and body.
func (c *Client) send(ctx context.Context, method, path string, in any) (int, []byte, error) {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set("X-API-Key", c.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, &ConnError{URL: c.base.String(), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.MaxResponseBytes+1))
	if err != nil {
		return 0, nil, &ConnError{URL: c.base.String(), Err: err}
	}
	if int64(len(body)) > c.MaxResponseBytes {
		return 0, nil, fmt.Errorf("client: the answer is larger than %d bytes", c.MaxResponseBytes)
	}
	return resp.StatusCode, body, nil
}

// decodeError turns an error answer into an *api.Error: the server's own
// when it sent one, else one built from the status.
func decodeError(status int, body []byte) error {
	var doc struct {
		Error *api.Error `json:"error"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.Error != nil && doc.Error.Class != "" {
		return doc.Error
	}
	var ready api.Readiness
	if json.Unmarshal(body, &ready) == nil && ready.Status != "" {
		return &api.Error{Class: api.ClassUnavailable, Message: fmt.Sprintf("server not ready: %s %s", ready.Status, ready.Error)}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &api.Error{Class: api.ClassInternal, Message: fmt.Sprintf("the server answered %d %s: %s", status, http.StatusText(status), msg)}
}

// ConnError is a request that got no answer: the server is down, the
// address is wrong, or the connection broke.
type ConnError struct {
	URL string
	Err error
}

func (e *ConnError) Error() string {
	var ue *url.Error
	err := e.Err
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("cannot reach the server at %s: %v", e.URL, err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// DefaultTimeout is how long a client call waits when its context has no
// deadline and the query names no timeout.
const DefaultTimeout = exec.DefaultTimeout + 5*time.Second
