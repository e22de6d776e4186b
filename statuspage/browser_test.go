//go:build e2e

package statuspage_test

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var update = flag.Bool("update", false, "write the browser test's screenshot to docs/status-page.png")

// screenshotPath is where the README's screenshot lives, from this
// package's directory.
const screenshotPath = "../docs/status-page.png"

// browserFleet is what the README's screenshot shows: healthy targets, a
// wrong key, a v1-only cloud and a listing without permission.
var browserFleet = []testTarget{
	{name: "prod-beijing", instances: true, size: 25},
	{name: "prod-shanghai", region: "cn-east-3", failure: "wrong key", size: 8},
	{name: "otc-frankfurt", region: "eu-de", failure: "v1 only", size: 6},
	{name: "analytics-singapore", region: "ap-southeast-1", failure: "listing refused", instances: true, size: 5},
	{name: "staging-beijing", size: 4},
	{name: "staging-singapore", region: "ap-southeast-1", size: 2},
}

// browser is a headless Chromium with a fresh profile, and the URLs of the
// requests its tab has sent.
type browser struct {
	ctx context.Context

	mu       sync.Mutex
	requests []string
}

// startBrowser starts Debian's Chromium, or fails the test when there is
// none: this file runs only in the end-to-end tier (make e2e), which skips
// nothing. It leaves nothing running when the test ends.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := "/usr/bin/chromium"
	if _, err := os.Stat(path); err != nil {
		found, lookErr := exec.LookPath("chromium")
		if lookErr != nil {
			t.Fatal("no Chromium at /usr/bin/chromium or on PATH (apt-get install chromium): the status page cannot be tested in a browser")
		}
		path = found
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Whatever the page asked for, no name would resolve: the test
		// must see such a request, not send it off the machine.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	// Listen starts the browser and opens the tab.
	err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.requests = append(b.requests, e.Request.URL)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return b
}

// step bounds one browser action; the browser itself lives as long as the
// test.
func (b *browser) step(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// foreignRequests returns the requests that went anywhere but origin.
func (b *browser) foreignRequests(origin string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, u := range b.requests {
		if u != origin && !strings.HasPrefix(u, origin+"/") {
			out = append(out, u)
		}
	}
	return out
}

// TestStatusPageInBrowser loads the page in headless Chromium: it must show
// a failing target with its hint and a healthy one, and load nothing from
// anywhere else. With -update it writes the README's screenshot.
func TestStatusPageInBrowser(t *testing.T) {
	b := startBrowser(t)
	f := newFleet(t, browserFleet)
	srv := httptest.NewServer(f.page(""))
	defer srv.Close()

	ctx := b.step(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`section.failing`))); err != nil {
		t.Fatal(err)
	}
	failing, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`section[data-target="prod-shanghai"]`)))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"prod-shanghai", "down", "status call", "HTTP 401", "APIGW.0301", "The access key or secret key is wrong", "NTP"} {
		if !strings.Contains(failing, want) {
			t.Errorf("the failing target does not show %q:\n%s", want, failing)
		}
	}
	otc, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`section[data-target="otc-frankfurt"]`)))
	if err != nil || !strings.Contains(otc, "set api_version: v1") {
		t.Errorf("the v1-only target does not show its hint (%v):\n%s", err, otc)
	}
	healthy, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr[data-target="prod-beijing"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(healthy, "up") || !strings.Contains(healthy, "25 instances, listed") {
		t.Errorf("the healthy target's row reads %q", healthy)
	}
	// The failing targets come first on the screen too.
	order, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
		`document.querySelector('section.failing').compareDocumentPosition(document.querySelector('tr[data-target]')) === Node.DOCUMENT_POSITION_FOLLOWING`))
	if err != nil || !order {
		t.Errorf("the failing targets are not above the healthy ones (%v)", err)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.DecodeConfig(bytes.NewReader(shot))
	if err != nil || img.Width < 1000 || img.Height < 400 {
		t.Errorf("the screenshot is not a full page PNG: %v, %dx%d", err, img.Width, img.Height)
	}
	if foreign := b.foreignRequests(srv.URL); len(foreign) > 0 {
		t.Errorf("the page made requests elsewhere: %v", foreign)
	}
	if len(b.foreignRequests("")) == 0 {
		t.Error("no request was seen at all: the network listener is not working")
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(screenshotPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(screenshotPath, shot, 0o644); err != nil { //nolint:gosec // a picture for the README
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d KiB)", screenshotPath, len(shot)>>10)
	}
}

// TestBrowserSeesForeignRequests proves the check above can fail: a page
// that loads an image from another origin is caught.
func TestBrowserSeesForeignRequests(t *testing.T) {
	b := startBrowser(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/gif")
		_, _ = w.Write([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))
	}))
	defer other.Close()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte(`<!DOCTYPE html><title>x</title><p id="p">page</p><img src="` + other.URL + `/pixel.gif">`))
	}))
	defer page.Close()

	ctx := b.step(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(page.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`#p`))); err != nil {
		t.Fatal(err)
	}
	// The image is requested while the page loads; Navigate returns after
	// the load event, so the request has been seen.
	foreign := b.foreignRequests(page.URL)
	if len(foreign) != 1 || foreign[0] != other.URL+"/pixel.gif" {
		t.Errorf("foreign requests %v, want the image of the other origin", foreign)
	}
}
