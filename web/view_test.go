package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tetrahq/tetra/web"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPage: the page names its assets under the versioned path, is
// revalidated on every load, and carries the security headers.
func TestPage(t *testing.T) {
	v, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	r := get(t, v, "/")
	page := body(t, r)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if !strings.Contains(page, `src="`+v.Base()+`js/main.js"`) || strings.Contains(page, "{{assets}}") {
		t.Errorf("the page does not name the versioned assets:\n%s", page)
	}
	for h, want := range map[string]string{
		"Content-Security-Policy": web.ContentSecurityPolicy, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
		"ETag": `"` + v.Version() + `"`, "Referrer-Policy": "no-referrer",
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	if r := get(t, v, "/", "If-None-Match", `"`+v.Version()+`"`); r.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", r.StatusCode)
	}
	if r := get(t, v, "/", "If-None-Match", `"stale"`); r.StatusCode != 200 {
		t.Errorf("a stale ETag: %d, want 200", r.StatusCode)
	}
}

// TestPolicyHolds: the CSP forbids inline script and style and every other
// origin, and the page and the modules need neither.
func TestPolicyHolds(t *testing.T) {
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(web.ContentSecurityPolicy, d) {
			t.Errorf("the policy lacks %s", d)
		}
	}
	if strings.Contains(web.ContentSecurityPolicy, "unsafe") || strings.Contains(web.ContentSecurityPolicy, "http") {
		t.Errorf("the policy allows too much: %s", web.ContentSecurityPolicy)
	}
	v, _ := web.New()
	page := body(t, get(t, v, "/"))
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(page, -1) {
		if !strings.Contains(tag, ` src="/assets/`) {
			t.Errorf("an inline script: %s", tag)
		}
	}
	for _, re := range []string{`\sstyle=`, `\son[a-z]+=`, `https?://`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("the page has %q, which the policy forbids or which reaches out", m)
		}
	}
}

// TestAssets: assets are cached for good under their version, typed by a
// fixed table, and another version or a path out of the assets is a 404.
func TestAssets(t *testing.T) {
	v, _ := web.New()
	for path, ctype := range map[string]string{
		"js/main.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8", "icon.svg": "image/svg+xml",
		"vendor/cytoscape-3.35.0/cytoscape.esm.min.mjs": "text/javascript; charset=utf-8",
	} {
		r := get(t, v, v.Base()+path)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != ctype || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			r.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d %q %q", path, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"))
		}
		if r := get(t, v, v.Base()+path, "If-None-Match", `"`+v.Version()+`"`); r.StatusCode != http.StatusNotModified {
			t.Errorf("%s revalidated: %d", path, r.StatusCode)
		}
	}
	for _, path := range []string{"/assets/0123456789abcdef/js/main.js", v.Base() + "nope.js", v.Base() + "../../web.go", v.Base() + "index.html", "/assets/", v.Base()} {
		if r := get(t, v, path); r.StatusCode != 404 || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %q, want an uncached 404", path, r.StatusCode, r.Header.Get("Cache-Control"))
		}
	}
	if v2, _ := web.New(); v2.Version() != v.Version() {
		t.Error("the version is not a function of the assets")
	}
}

// TestVendoredLibrary: the vendored Cytoscape.js keeps its licence and is
// the version docs/web.md names.
func TestVendoredLibrary(t *testing.T) {
	v, _ := web.New()
	lic := body(t, get(t, v, v.Base()+"vendor/cytoscape-3.35.0/LICENSE"))
	if !strings.Contains(lic, "The Cytoscape Consortium") || !strings.Contains(lic, "Permission is hereby granted") {
		t.Errorf("the licence is missing: %.200s", lic)
	}
	lib := body(t, get(t, v, v.Base()+"vendor/cytoscape-3.35.0/cytoscape.esm.min.mjs"))
	if !strings.Contains(lib, `"3.35.0"`) {
		t.Error("the vendored file is not Cytoscape.js 3.35.0")
	}
}
