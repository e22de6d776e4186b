package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/demo"
)

// TestDemoShowsAFailingTarget: --demo has one target that fails on purpose,
// so that a new user sees a failure and its hint on the status page and in
// --dcs.check, while the other demo targets stay up.
func TestDemoShowsAFailingTarget(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newApp(ctx, []string{"--demo"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	srv := httptest.NewServer(a.handler)
	defer srv.Close()

	metrics := demoGet(t, srv.URL+"/metrics") // on-scrape mode: this queries every target
	up := regexp.MustCompile(`(?m)^dcs_up\{target="([^"]+)"[^}]*\} ([01])$`).FindAllStringSubmatch(metrics, -1)
	if len(up) != 4 {
		t.Fatalf("want dcs_up of 4 demo targets, got %q", up)
	}
	for _, m := range up {
		if want := map[bool]string{true: "0", false: "1"}[m[1] == demo.FailingTarget]; m[2] != want {
			t.Errorf("dcs_up of %s is %s, want %s", m[1], m[2], want)
		}
	}

	page := demoGet(t, srv.URL+"/")
	for _, w := range []string{demo.FailingTarget, "DCS.2007", "attach the DCS ReadOnlyAccess policy"} {
		if !strings.Contains(page, w) {
			t.Errorf("the status page does not show %q", w)
		}
	}

	f, err := parseFlags([]string{"--dcs.check", "--demo"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := runChecks(ctx, f, &out); code != 1 {
		t.Errorf("--dcs.check --demo exit status %d, want 1", code)
	}
	if !regexp.MustCompile(demo.FailingTarget + ` +FAILED +status call: HTTP 403 DCS\.2007 .*\| hint: .*DCS ReadOnlyAccess`).MatchString(out.String()) {
		t.Errorf("--dcs.check --demo does not show the failing target with its hint:\n%s", &out)
	}
}

func demoGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}
