package scriptrt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// HTTPConfig configures the Http script API. Scripts reach only the hosts
// on AllowHosts, with the http and https schemes, never following a
// redirect to a host off the list.
type HTTPConfig struct {
	// AllowHosts are the hosts scripts may call: "host" (any port) or
	// "host:port", compared case-insensitively with the URL's host as
	// written (no DNS lookup), and "*.example.com" for any subdomain of
	// example.com. Empty: every request is refused.
	AllowHosts []string
	// Timeout bounds one request, body included (DefaultHTTPTimeout); a
	// script may ask for less with .timeout(d).
	Timeout time.Duration
	// MaxBodyBytes bounds a request or response body (DefaultHTTPBodyBytes).
	MaxBodyBytes int64
	// MaxRedirects bounds the redirects of one request (DefaultHTTPRedirects).
	MaxRedirects int
}

// Defaults of HTTPConfig.
const (
	DefaultHTTPTimeout   = 10 * time.Second
	DefaultHTTPBodyBytes = 4 << 20
	DefaultHTTPRedirects = 5
)

func (c *HTTPConfig) client() (*http.Client, error) {
	if c.Timeout <= 0 {
		c.Timeout = DefaultHTTPTimeout
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultHTTPBodyBytes
	}
	if c.MaxRedirects <= 0 {
		c.MaxRedirects = DefaultHTTPRedirects
	}
	for _, h := range c.AllowHosts {
		if strings.TrimSpace(h) == "" || strings.Contains(h, "/") {
			return nil, fmt.Errorf("scriptrt: HTTP allow-list entry %q is not a host or host:port", h)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a proxy from the environment would be a way around the allow-list
	tr.ResponseHeaderTimeout = c.Timeout
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > c.MaxRedirects {
				return &SecurityError{Msg: fmt.Sprintf("Http: more than %d redirects", c.MaxRedirects)}
			}
			return c.allowed(req.URL, "a redirect to ")
		},
	}, nil
}

// allowed checks a URL against the scheme and the allow-list.
func (c *HTTPConfig) allowed(u *url.URL, how string) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &SecurityError{Msg: fmt.Sprintf("Http: %s%s is refused: only http and https URLs are allowed", how, u.Redacted())}
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	for _, a := range c.AllowHosts {
		a = strings.ToLower(strings.TrimSpace(a))
		ah, ap, err := net.SplitHostPort(a)
		if err != nil {
			ah, ap = strings.Trim(a, "[]"), ""
		}
		if ap != "" && ap != port {
			continue
		}
		if ah == host || (strings.HasPrefix(ah, "*.") && strings.HasSuffix(host, ah[1:])) {
			return nil
		}
	}
	return &SecurityError{Msg: fmt.Sprintf("Http: %s%s is refused: host %q is not on the allow-list of the script runtime", how, u.Redacted(), u.Host)}
}

// httpError is an HTTP request that failed (not a refused one).
type httpError struct{ err error }

func (e *httpError) Error() string { return "Http: " + e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

// httpRequest is the state of an Http builder.
type httpRequest struct {
	method   string
	url      *url.URL
	header   http.Header
	body     []byte
	timeout  time.Duration
	response string // "text", "json" or "body"
}

func (s *session) httpMethods() map[string]func(goja.FunctionCall) goja.Value {
	m := map[string]func(goja.FunctionCall) goja.Value{}
	for _, name := range []string{"get", "post", "put", "patch", "delete", "head", "options"} {
		method := strings.ToUpper(name)
		m[name] = func(c goja.FunctionCall) goja.Value {
			raw := s.stringArg(c, 0, "Http."+name+"'s URL")
			u, err := url.Parse(raw)
			if err != nil || u.Host == "" {
				s.throw(argErrorf("Http.%s: %q is not an absolute URL", name, raw), "")
			}
			return s.httpObject(httpRequest{method: method, url: u, header: http.Header{}, response: "text"})
		}
	}
	return m
}

// httpObject is the JS builder of r. The request is sent when the builder
// is resolved; a host off the allow-list is refused at once.
func (s *session) httpObject(r httpRequest) goja.Value {
	if err := s.rt.cfg.HTTP.allowed(r.url, ""); err != nil {
		s.throw(err, "")
	}
	with := func(f func(*httpRequest, goja.FunctionCall)) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			r2 := r
			r2.header = r.header.Clone()
			u := *r.url
			r2.url = &u
			f(&r2, c)
			return s.httpObject(r2)
		}
	}
	methods := map[string]func(goja.FunctionCall) goja.Value{
		"timeout": with(func(r *httpRequest, c goja.FunctionCall) { r.timeout = s.duration(c.Argument(0), "timeout") }),
		"param": with(func(r *httpRequest, c goja.FunctionCall) {
			q := r.url.Query()
			q.Add(s.stringArg(c, 0, "param's name"), c.Argument(1).String())
			r.url.RawQuery = q.Encode()
		}),
		"header": with(func(r *httpRequest, c goja.FunctionCall) {
			r.header.Add(s.stringArg(c, 0, "header's name"), c.Argument(1).String())
		}),
		"contentType": with(func(r *httpRequest, c goja.FunctionCall) {
			r.header.Set("Content-Type", s.stringArg(c, 0, "contentType"))
		}),
		"textRequest": with(func(r *httpRequest, c goja.FunctionCall) { r.body = s.body([]byte(s.stringArg(c, 0, "textRequest"))) }),
		"jsonRequest": with(func(r *httpRequest, c goja.FunctionCall) {
			r.body = s.body(s.toJSON(c.Argument(0)))
			if r.header.Get("Content-Type") == "" {
				r.header.Set("Content-Type", "application/json")
			}
		}),
		"textResponse": with(func(r *httpRequest, c goja.FunctionCall) { r.response = "text" }),
		"jsonResponse": with(func(r *httpRequest, c goja.FunctionCall) { r.response = "json" }),
		"jsonBody":     with(func(r *httpRequest, c goja.FunctionCall) { r.response = "body" }),
	}
	pos := s.here()
	q := &httpCall{s: s, r: r, pos: pos}
	return s.thenableObject(q, methods)
}

// body checks a request body against the size limit.
func (s *session) body(b []byte) []byte {
	if max := s.rt.cfg.HTTP.MaxBodyBytes; int64(len(b)) > max {
		s.throw(&LimitError{Limit: LimitHTTPBody, Max: max, Detail: "the request body is bigger"}, "")
	}
	return b
}

// toJSON serialises a JS value for a request body with the result encoder
// (and its limits).
func (s *session) toJSON(v goja.Value) []byte {
	e := &encoder{s: s, max: int(s.rt.cfg.HTTP.MaxBodyBytes), visiting: map[*goja.Object]bool{}}
	if err := e.value(v, 0); err != nil {
		s.throw(err, "")
	}
	return e.buf.Bytes()
}

// duration reads a duration argument: a string such as "30s" or a number
// of milliseconds.
func (s *session) duration(v goja.Value, what string) time.Duration {
	if goja.IsNumber(v) && v.ToFloat() > 0 {
		return time.Duration(v.ToFloat() * float64(time.Millisecond))
	}
	d, err := time.ParseDuration(v.String())
	if err != nil || d <= 0 {
		s.throw(argErrorf("%s takes a positive duration such as \"30s\" or a number of milliseconds", what), "")
	}
	return d
}

// httpCall sends one request when resolved.
type httpCall struct {
	s   *session
	r   httpRequest
	pos position
	lazy
}

func (h *httpCall) resolve() outcome {
	return h.get(func() outcome {
		status, header, body, err := h.send()
		if err != nil {
			return h.s.reject(err, "", h.pos)
		}
		return h.s.try(func() goja.Value { return h.s.httpValue(h.r.response, status, header, body) })
	})
}

// send makes the request with the run's context, bounded by the request's
// timeout, and reads at most MaxBodyBytes of the answer.
func (h *httpCall) send() (int, http.Header, []byte, error) {
	s, cfg := h.s, &h.s.rt.cfg.HTTP
	s.calls++
	if s.calls > s.lim.MaxCalls {
		return 0, nil, nil, &LimitError{Limit: LimitCalls, Max: int64(s.lim.MaxCalls), Detail: "too many queries and requests in one run"}
	}
	timeout := cfg.Timeout
	if h.r.timeout > 0 && h.r.timeout < timeout {
		timeout = h.r.timeout
	}
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, h.r.method, h.r.url.String(), bytes.NewReader(h.r.body))
	if err != nil {
		return 0, nil, nil, &httpError{err}
	}
	req.Header = h.r.header.Clone()
	resp, err := s.rt.client.Do(req)
	if err != nil {
		var sec *SecurityError
		if errors.As(err, &sec) {
			return 0, nil, nil, sec
		}
		if s.ctx.Err() != nil {
			return 0, nil, nil, s.ctx.Err()
		}
		return 0, nil, nil, &httpError{err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, cfg.MaxBodyBytes+1))
	if err != nil {
		return 0, nil, nil, &httpError{err}
	}
	if int64(len(body)) > cfg.MaxBodyBytes {
		return 0, nil, nil, &LimitError{Limit: LimitHTTPBody, Max: cfg.MaxBodyBytes, Detail: "the response body is bigger"}
	}
	return resp.StatusCode, resp.Header, body, nil
}

// httpValue is the script's view of a response: {status, headers, body}
// with the body as text or parsed JSON, or only the parsed body.
func (s *session) httpValue(kind string, status int, header http.Header, body []byte) goja.Value {
	var b goja.Value = s.vm.ToValue(string(body))
	if kind != "text" {
		b = s.parseJSON(body)
	}
	if kind == "body" {
		return b
	}
	obj := s.vm.NewObject()
	_ = obj.Set("status", status)
	headers := s.vm.NewObject()
	for k, v := range header {
		_ = headers.Set(strings.ToLower(k), strings.Join(v, ", "))
	}
	_ = obj.Set("headers", headers)
	_ = obj.Set("body", b)
	s.types[obj] = "HttpResponse"
	return obj
}
