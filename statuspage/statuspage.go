// Package statuspage serves the operator's page at "/": every target with
// its state, counts, data age, API calls and listing, and for a failing
// target its last error with the same diagnosis --dcs.check prints. It is
// rendered on the server with html/template, loads nothing from elsewhere,
// and shows failing targets first and in full, healthy ones compact, so that
// it stays readable with a thousand targets.
package statuspage

import (
	"bytes"
	_ "embed"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
	"github.com/dcs-exporter/dcs_exporter/discovery"
)

//go:embed page.html.tmpl
var pageTemplate string

var page = template.Must(template.New("page").Parse(pageTemplate))

// Link is one of the page's links to the exporter's other paths.
type Link struct {
	Address, Text string
}

// Options configure the page.
type Options struct {
	// Targets returns the snapshot to show; Exporter.TargetStatuses.
	Targets func() []collector.TargetStatus
	// Discovery returns what /sd offers per target; the /sd handler's
	// Summaries. Nil leaves the column out.
	Discovery func() []discovery.Summary
	// Ready reports whether the exporter is ready; Exporter.Ready.
	Ready   func() bool
	Links   []Link
	Version string
	// Demo, when not empty, is shown as a banner: the page marks itself
	// as a demo so that nobody mistakes the fake fleet for theirs.
	Demo string
	Now  func() time.Time // time.Now when nil
}

// Handler serves the page at "/" and 404 on every other path, which the
// mux sends here because "/" matches everything.
type Handler struct {
	opts Options
	bufs sync.Pool
}

// New returns the page's handler.
func New(o Options) *Handler {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{opts: o, bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
}

// contentSecurityPolicy forbids the browser to load anything: the page has
// its style inline and no scripts, images or fonts.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer h.bufs.Put(buf)
	if err := h.Render(buf); err != nil {
		http.Error(w, "rendering the status page failed", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}

// Render writes the page for the targets' current state.
func (h *Handler) Render(buf *bytes.Buffer) error {
	return page.Execute(buf, build(h.opts, h.opts.Targets(), h.opts.Now()))
}

// pageData is everything the template shows, already in words: the template
// cannot reach a target's configuration, and with it its credentials.
type pageData struct {
	Version   string
	Demo      string
	Links     []Link
	Generated string
	Ready     bool
	Discovery bool // whether the page shows what /sd offers
	Total     int
	Up        int
	Down      int
	Waiting   int
	Failing   []failingRow
	Healthy   int
	// HealthyRows is the compact table's body, built by healthyRows.
	HealthyRows template.HTML
}

type failingRow struct {
	Name, Region, ProjectID string
	State                   string
	Counts                  string
	DataAge                 string
	Finding                 *diagnosis.Finding // of the status query; nil when it is up
	NextAttempt             string
	Calls                   string
	Listing                 string
	ListingFinding          *diagnosis.Finding
	Topology                string // nodes and backups; see topology.go
	TopologyFindings        []diagnosis.Finding
	Discovery               string
	Fleet                   string // the statistics and quota sources; see fleet
	StatisticsFinding       *diagnosis.Finding
	QuotaFinding            *diagnosis.Finding
}

type healthyRow struct {
	Name, Region, ProjectID string
	State                   string
	Instances, NotRunning   string
	DataAge                 string
	Calls                   string
	Listing                 string
	Topology                string
	Discovery               string
	Fleet                   string
}

// healthyRows writes the compact table's rows. They are built here rather
// than in the template because html/template runs each of its escapers
// through reflection, which for the ten cells of a thousand rows is most of
// the render time; every value is escaped with html.EscapeString, which is
// right both in element text and in the double-quoted attribute.
func healthyRows(rows []healthyRow, withDiscovery bool) template.HTML {
	var b strings.Builder
	b.Grow(len(rows) * 400)
	cell := func(class, v string) {
		b.WriteString("<td")
		if class != "" {
			b.WriteString(` class="` + class + `"`)
		}
		b.WriteString(">")
		b.WriteString(html.EscapeString(v))
		b.WriteString("</td>")
	}
	for _, r := range rows {
		b.WriteString(`<tr data-target="`)
		b.WriteString(html.EscapeString(r.Name))
		b.WriteString(`">`)
		cell("", r.Name)
		stateClass := "muted"
		if r.State == "up" {
			stateClass = "good"
		}
		cell(stateClass, r.State)
		cell("", r.Region)
		b.WriteString("<td><code>" + html.EscapeString(r.ProjectID) + "</code></td>")
		cell("n", r.Instances)
		cell("n", r.NotRunning)
		cell("", r.DataAge)
		cell("", r.Calls)
		cell("", r.Listing)
		cell("", r.Topology)
		cell("", r.Fleet)
		if withDiscovery {
			cell("", r.Discovery)
		}
		b.WriteString("</tr>\n")
	}
	return template.HTML(b.String()) // every value above is escaped
}

func build(o Options, targets []collector.TargetStatus, now time.Time) pageData {
	d := pageData{
		Version:   o.Version,
		Demo:      o.Demo,
		Links:     o.Links,
		Generated: now.UTC().Format("2006-01-02 15:04:05 UTC"),
		Ready:     o.Ready == nil || o.Ready(),
		Discovery: o.Discovery != nil,
		Total:     len(targets),
	}
	offered := map[string]string{}
	if o.Discovery != nil {
		for _, sum := range o.Discovery() {
			offered[sum.Target] = offers(sum)
		}
	}
	var healthyList []healthyRow
	for i := range targets {
		ts := &targets[i]
		statusDown := ts.Attempted && !ts.Up
		listingDown := ts.Listing != nil && ts.Listing.Attempted && !ts.Listing.Up
		fleetDown := ts.Statistics != nil && ts.Statistics.Attempted && !ts.Statistics.Up ||
			ts.Quota != nil && ts.Quota.Attempted && !ts.Quota.Up
		switch {
		case statusDown:
			d.Down++
		case ts.Attempted:
			d.Up++
		default:
			d.Waiting++
		}
		if statusDown || listingDown || fleetDown || topologyDown(ts) {
			row := failing(ts, now)
			row.Discovery = offered[row.Name]
			d.Failing = append(d.Failing, row)
		} else {
			row := healthy(ts, now)
			row.Discovery = offered[row.Name]
			healthyList = append(healthyList, row)
		}
	}
	// The snapshot is sorted by name already; keep that order within each
	// group, but make sure of it.
	sort.SliceStable(d.Failing, func(i, j int) bool { return d.Failing[i].Name < d.Failing[j].Name })
	d.Healthy, d.HealthyRows = len(healthyList), healthyRows(healthyList, d.Discovery)
	return d
}

func failing(ts *collector.TargetStatus, now time.Time) failingRow {
	row := failingRow{
		Name: ts.Config.Name, Region: ts.Config.Region, ProjectID: projectOf(ts),
		State:   "up",
		Counts:  "no counts yet",
		DataAge: age(ts.LastSuccess, now),
		Calls:   calls(ts.Requests),
		Listing: listing(ts.Listing, now),
		Fleet:   fleet(ts, now),
	}
	row.Topology, row.TopologyFindings = topology(ts, now)
	if ts.HasCounts {
		row.Counts = fmt.Sprintf("%d instances, %d not running", ts.Total, ts.NotRunning)
		if !ts.Up {
			row.Counts += " (from the last success)"
		}
	}
	if !ts.Up {
		row.State = "down"
		if ts.LastError != nil {
			f := diagnosis.Diagnose(ts.FailedStep, ts.LastError, ts.Config)
			row.Finding = &f
		}
	}
	if !ts.NextAttempt.IsZero() {
		row.NextAttempt = fmt.Sprintf("%s (in %s)", ts.NextAttempt.UTC().Format("15:04:05 UTC"), roundAge(ts.NextAttempt.Sub(now)))
	}
	listingDown := ts.Listing != nil && ts.Listing.Attempted && !ts.Listing.Up
	if ts.Up && !listingDown && topologyDown(ts) {
		row.State = "up, " + topologyFailing(ts)
	}
	if l := ts.Listing; l != nil && l.Attempted && !l.Up {
		if ts.Up {
			row.State = "up, listing failing"
		}
		if l.LastError != nil {
			f := diagnosis.Diagnose(diagnosis.StepListing, l.LastError, ts.Config)
			row.ListingFinding = &f
		}
	}
	if st := ts.Statistics; st != nil && st.Attempted && !st.Up {
		if ts.Up && row.State == "up" {
			row.State = "up, statistics failing"
		}
		if st.LastError != nil && ts.Up { // a failed status call's finding already explains
			f := diagnosis.Diagnose(diagnosis.StepStatistics, st.LastError, ts.Config)
			row.StatisticsFinding = &f
		}
	}
	if q := ts.Quota; q != nil && q.Attempted && !q.Up {
		if ts.Up && row.State == "up" {
			row.State = "up, quota failing"
		}
		if q.LastError != nil && ts.Up {
			f := diagnosis.Diagnose(diagnosis.StepQuota, q.LastError, ts.Config)
			row.QuotaFinding = &f
		}
	}
	return row
}

func healthy(ts *collector.TargetStatus, now time.Time) healthyRow {
	row := healthyRow{
		Name: ts.Config.Name, Region: ts.Config.Region, ProjectID: projectOf(ts),
		State:   "up",
		DataAge: age(ts.LastSuccess, now),
		Calls:   calls(ts.Requests),
		Listing: listing(ts.Listing, now),
		Fleet:   fleet(ts, now),
	}
	row.Topology, _ = topology(ts, now)
	switch {
	case ts.Querying && !ts.Attempted:
		row.State = "querying"
	case !ts.Attempted:
		row.State = "waiting"
	}
	if ts.HasCounts {
		row.Instances, row.NotRunning = fmt.Sprint(ts.Total), fmt.Sprint(ts.NotRunning)
	}
	return row
}

func projectOf(ts *collector.TargetStatus) string {
	if ts.ProjectID != "" {
		return ts.ProjectID
	}
	return "(not looked up yet)"
}

// age says how old data from t is; "never" for the zero time.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return roundAge(now.Sub(t))
}

func roundAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// calls writes the API calls by API and code, e.g.
// "instance_status 200×12 401×3, iam_projects 200×1".
func calls(rs []collector.RequestCount) string {
	var b strings.Builder
	api := ""
	for _, r := range rs {
		switch {
		case r.API != api && api != "":
			b.WriteString(", ")
			fallthrough
		case r.API != api:
			b.WriteString(r.API)
			api = r.API
		}
		fmt.Fprintf(&b, " %s×%d", r.Code, r.N)
	}
	if b.Len() == 0 {
		return "none yet"
	}
	return b.String()
}

func listing(l *collector.ListingStatus, now time.Time) string {
	switch {
	case l == nil:
		return ""
	case l.Running && !l.Attempted:
		return "first listing running"
	case !l.Attempted:
		return "not listed yet"
	case !l.Up && l.LastSuccess.IsZero():
		return "failing, never listed"
	case !l.Up:
		return fmt.Sprintf("failing; %d instances listed %s ago", l.Instances, age(l.LastSuccess, now))
	}
	s := fmt.Sprintf("%d instances, listed %s ago", l.Instances, age(l.LastSuccess, now))
	if l.Mismatches > 0 {
		s += fmt.Sprintf("; %d states disagree with the status counts", l.Mismatches)
	}
	return s
}

// offers says what /sd offers of one target, as the page shows it, and
// what /sd?level=node offers when the target walks its nodes.
func offers(s discovery.Summary) string {
	out := ""
	switch s.State {
	case discovery.Off:
		out = "left out (listing off)"
	case discovery.NeverListed:
		out = "none yet: 503 until the first listing"
	case discovery.Stale:
		out = "none: the listing is stale, 503"
	default:
		out = fmt.Sprintf("%d offered", s.Offered)
		if s.NoAddress > 0 {
			out += fmt.Sprintf(", %d without an address left out", s.NoAddress)
		}
	}
	switch s.NodeState {
	case discovery.NeverListed:
		out += "; nodes: none yet, level=node answers 503 until the first walk"
	case discovery.Stale:
		out += "; nodes: none, the walk is stale, level=node answers 503"
	case discovery.Fresh:
		out += fmt.Sprintf("; %d nodes at level=node", s.NodesOffered)
	}
	return out
}

// fleet says what the statistics and quota sources last found, e.g.
// "statistics of 23 running instances 10s ago; quota 12/50 instances,
// 40/800 GB"; empty when the target reads neither.
func fleet(ts *collector.TargetStatus, now time.Time) string {
	var parts []string
	if st := ts.Statistics; st != nil {
		switch {
		case !st.Attempted:
			parts = append(parts, "statistics not read yet")
		case !st.Up && st.LastSuccess.IsZero():
			parts = append(parts, "statistics failing, never read")
		case !st.Up:
			parts = append(parts, fmt.Sprintf("statistics failing; last read %s ago", age(st.LastSuccess, now)))
		default:
			parts = append(parts, fmt.Sprintf("statistics of %d running instances %s ago", st.Instances, age(st.LastSuccess, now)))
		}
	}
	if q := ts.Quota; q != nil {
		switch {
		case !q.Attempted:
			parts = append(parts, "quota not read yet")
		case !q.Up && q.LastSuccess.IsZero():
			parts = append(parts, "quota failing, never read")
		default:
			s := "quota"
			if !q.Up {
				s = "quota failing; last"
			}
			if v := q.Quota.Instances; v.HasLimit && v.HasUsed {
				s += fmt.Sprintf(" %.0f/%.0f instances", v.Used, v.Limit)
			}
			if v := q.Quota.Memory; v.HasLimit && v.HasUsed {
				s += fmt.Sprintf(" %.0f/%.0f GB", v.Used/(1<<30), v.Limit/(1<<30))
			}
			parts = append(parts, s+fmt.Sprintf(", read %s ago", age(q.LastSuccess, now)))
		}
	}
	return strings.Join(parts, "; ")
}
