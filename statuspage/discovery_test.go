package statuspage_test

import (
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestPageShowsWhatSDOffers checks, per target, the page's /sd cell against
// the fake's instances: the instances with an address of a listed target,
// none of a target whose listing never succeeded, and none of a target that
// does not list; and that the page links /sd.
func TestPageShowsWhatSDOffers(t *testing.T) {
	f := newFleet(t, []testTarget{
		{name: "a-listed", instances: true, size: 40},
		{name: "b-not-listed", size: 5},
		{name: "c-listing-refused", failure: "listing refused", instances: true, size: 4},
	})
	withAddress, without := 0, 0
	for _, in := range f.fake.Instances(projectOf(0)) {
		if in.NoAddress {
			without++
		} else {
			withAddress++
		}
	}
	if without == 0 {
		t.Fatal("the sample fleet of 40 has no instance without an address; the test needs one")
	}
	code, _, body := get(t, f.page(""), "/")
	if code != http.StatusOK {
		t.Fatalf("HTTP %d", code)
	}
	for target, want := range map[string]string{
		"a-listed":          fmt.Sprintf("%d offered, %d without an address left out", withAddress, without),
		"b-not-listed":      "left out (listing off)",
		"c-listing-refused": "none yet: 503 until the first listing",
	} {
		if got := sdCell(t, body, target); got != want {
			t.Errorf("%s: the page says /sd offers %q, want %q", target, got, want)
		}
	}
	if !strings.Contains(body, `<a href="/sd">`) {
		t.Error("the page does not link /sd")
	}
}

// sdCell finds what the page says /sd offers of a target: the last cell of
// its row among the healthy targets, or the /sd entry of its section among
// the failing ones.
func sdCell(t *testing.T, body, target string) string {
	t.Helper()
	name := regexp.QuoteMeta(html.EscapeString(target))
	row := regexp.MustCompile(`<tr data-target="` + name + `">.*<td>([^<]*)</td></tr>`).FindStringSubmatch(body)
	if row != nil {
		return html.UnescapeString(row[1])
	}
	section := regexp.MustCompile(`(?s)<section class="target failing" data-target="` + name + `">.*?</section>`).FindString(body)
	entry := regexp.MustCompile(`<dt><a href="/sd">/sd</a></dt><dd>([^<]*)</dd>`).FindStringSubmatch(section)
	if entry == nil {
		t.Fatalf("%s has no /sd entry on the page", target)
	}
	return html.UnescapeString(entry[1])
}
