package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every page and asset: scripts,
// styles and connections from this origin only (WebSocket included), no
// inline script or style, no plugins, no framing. The page loads nothing
// from anywhere else.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// AssetPrefix is the path under which assets are served, followed by the
// assets' version.
const AssetPrefix = "/assets/"

// View is the web view: the page and its assets, read from the embedded
// files once. It is immutable and safe for concurrent use.
type View struct {
	version string            // hash of every asset: the versioned path segment
	index   []byte            // index.html with the versioned asset base
	etag    string            // of index
	assets  map[string]*asset // by path under static/
}

type asset struct {
	body  []byte
	ctype string
}

// New reads the embedded assets and prepares the page.
func New() (*View, error) {
	v := &View{assets: map[string]*asset{}}
	h := sha256.New()
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "static/")
		// Names and contents both go into the version, so a rename
		// changes it too.
		fmt.Fprintf(h, "%s\x00%d\x00", rel, len(b))
		h.Write(b)
		v.assets[rel] = &asset{body: b, ctype: contentType(rel)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v.version = hex.EncodeToString(h.Sum(nil))[:16]
	page, ok := v.assets["index.html"]
	if !ok {
		return nil, fmt.Errorf("web: index.html is missing from the embedded assets")
	}
	// The page names its assets relative to {{assets}}: the versioned
	// base, so a new build never mixes with cached files of an old one.
	v.index = bytes.ReplaceAll(page.body, []byte("{{assets}}"), []byte(v.Base()))
	v.etag = `"` + v.version + `"`
	return v, nil
}

// Version is the assets' version: a hash of every embedded file.
func (v *View) Version() string { return v.version }

// Base is the path the current assets are served under.
func (v *View) Base() string { return AssetPrefix + v.version + "/" }

// Routes are the patterns the view serves, to mount as pages.
func (v *View) Routes() []string { return []string{"GET /{$}", "GET " + AssetPrefix} }

// ServeHTTP serves the page at / and the assets under /assets/<version>/.
func (v *View) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.URL.Path == "/" {
		v.serveIndex(w, r)
		return
	}
	v.serveAsset(w, r)
}

// serveIndex serves the page. It is revalidated on every load (no-cache
// with an ETag, answered 304 when unchanged), so a new build is picked up
// at once; the assets it names are cached for good.
func (v *View) serveIndex(w http.ResponseWriter, r *http.Request) {
	v.write(w, r, "no-cache", "text/html; charset=utf-8", v.index)
}

// serveAsset serves /assets/<version>/<path>. An asset of another version
// is a 404: serving today's file under yesterday's name would let a
// browser cache a mix of two builds under names promised never to change.
func (v *View) serveAsset(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, v.Base())
	a := v.assets[path.Clean("/" + rest)[1:]]
	if !ok || a == nil || rest == "index.html" {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "no such asset (the page may be from an older build: reload it)", http.StatusNotFound)
		return
	}
	v.write(w, r, "public, max-age=31536000, immutable", a.ctype, a.body)
}

// write answers with a body, or 304 when the client holds this build's
// version of it (every file's ETag is the build's version).
func (v *View) write(w http.ResponseWriter, r *http.Request, cache, ctype string, body []byte) {
	h := w.Header()
	h.Set("Cache-Control", cache)
	h.Set("ETag", v.etag)
	if etagMatches(r.Header.Get("If-None-Match"), v.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", ctype)
	w.Write(body)
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// etagMatches reports whether an If-None-Match header names etag.
func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == etag || t == "W/"+etag || t == "*" {
			return true
		}
	}
	return false
}

// contentType is an asset's type by its extension: a fixed table, not the
// system's MIME database, so the answer is the same on every machine (a
// module script served with another type does not run).
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	}
	return "text/plain; charset=utf-8"
}
