package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tetrahq/tetra/web"
)

// TestModules runs the JavaScript unit tests (testdata/unit/unit.js) in
// Chromium against the modules as the view serves them, one subtest each.
func TestModules(t *testing.T) {
	b := newBrowser(t)
	// The test page has no icon; a test makes the live client meet a diff
	// it cannot apply, which it reports before subscribing again.
	b.allow = append(b.allow, "/favicon.ico", "a diff did not apply")
	view, err := web.New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", view)
	mux.Handle("/unit/", http.StripPrefix("/unit/", http.FileServer(http.Dir("testdata/unit"))))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	b.run(chromedp.Navigate(hs.URL + "/unit/index.html?base=" + view.Base()))
	b.wait("the unit tests", `Array.isArray(window.unitResults)`)
	results := eval[[]struct {
		Name  string
		OK    bool
		Error string
	}](b, `window.unitResults`)
	if len(results) < 10 {
		t.Fatalf("only %d unit tests ran", len(results))
	}
	for _, r := range results {
		t.Run(r.Name, func(t *testing.T) {
			if !r.OK {
				t.Error(r.Error)
			}
		})
	}
	b.checkProblems()
}
