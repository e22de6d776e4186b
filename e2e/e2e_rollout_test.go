//go:build e2e

package e2e

// e2e_rollout_test.go simulates a rollout in the end-to-end test: a second
// exporter process, with the same flags and configuration in front of the
// same fake API, joins the scrape job as another instance, as a new pod does
// while the old one still runs, and later stops. The dashboard's counts
// and the alerts must be the same as with one exporter, while both are
// scraped and at every second in between.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// The fake fleet's maintenance windows open and close on full hours
	// (UTC), and with them dcs_instance_maintenance_window_active and
	// DCSInstanceInError change, whatever the number of exporters. The
	// rollout check keeps clear of full hours: it normally takes about 15 s.
	rolloutBeforeHour = 90 * time.Second
	// A change at the full hour reaches the alerts after a refresh, a
	// scrape, a rule evaluation and the alert's for: (1 + 1 + 1 + 2 s).
	rolloutAfterHour = 15 * time.Second
	// rolloutEvalLag: an evaluation's timestamp can be up to one evaluation
	// interval (1 s, prometheusConfig) older than the moment it started.
	rolloutEvalLag = 2 * time.Second
)

// dashSelection is a choice of the dashboard's variables, named for
// messages.
type dashSelection struct {
	name   string
	chosen map[string]string
}

// ownMeasurements are the metrics in which each exporter process reports
// something of its own: its API requests (the rates of two processes add
// up), its build (the version panel counts processes) and its timings. A
// query that reads one of them keeps its series through a rollout, not its
// values; every other query must keep its values.
var ownMeasurements = []string{
	"dcs_api_requests_total",
	"dcs_exporter_build_info",
	"dcs_scrape_duration_seconds",
	"dcs_last_success_timestamp_seconds",
}

// A query that reads the clock (time(), as the age of the last backup does)
// moves with it from one moment to the next, and keeps its series only.
func keepsValues(expr string) bool {
	return !strings.Contains(expr, "time()") && !slices.ContainsFunc(ownMeasurements, func(m string) bool { return readsMetric(expr, m) })
}

// writeScrapeTargets writes the file the dcs job discovers its targets in:
// the exporters' host:port, with the cluster label the dashboard's cluster
// variable needs. The file is replaced by a rename, so Prometheus never
// reads half of it.
func writeScrapeTargets(t *testing.T, path string, hosts ...string) {
	t.Helper()
	b, err := json.Marshal([]map[string]any{{"targets": hosts, "labels": map[string]string{"cluster": "e2e"}}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path+".new", string(b))
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// startExporterProcess starts one more exporter process, with the test's
// flags and the given configuration file, on a port of its own. It returns
// that host:port and a function that stops the exporter (also called at the
// end of the test).
func (e *e2e) startExporterProcess(configFile string) (string, func()) {
	e.t.Helper()
	d := e.startExporter("exporter-2", configFile, e2eExporterFlags...)
	return d.host, func() { d.stop(e.t) }
}

// untilClearOfFullHour is how long to wait before a check that must not
// span a full hour may start.
func untilClearOfFullHour(now time.Time) time.Duration {
	intoHour := now.Sub(now.Truncate(time.Hour))
	switch {
	case intoHour < rolloutAfterHour:
		return rolloutAfterHour - intoHour
	case time.Hour-intoHour < rolloutBeforeHour:
		return time.Hour - intoHour + rolloutAfterHour
	}
	return 0
}

// checkRollout adds a second exporter to the dcs job, whose only target so
// far is first, and requires that the dashboard, with each selection of its
// variables, and the alerts stay what they were with one exporter: the
// same series and values once both exporters are scraped and the rules have
// seen both, and the same at every second from before the second exporter
// joined until after it left. startSecond starts the second exporter and
// returns its host:port and a function that stops it.
func (e *e2e) checkRollout(d *dashboard, selections []dashSelection, targetsFile, first string, startSecond func() (string, func())) {
	t := e.t
	t.Helper()
	begin := time.Now()
	if wait := untilClearOfFullHour(begin); wait > 0 {
		t.Logf("rollout: waiting %v, until the check cannot span a full hour, when maintenance windows open and close", wait.Round(time.Second))
		time.Sleep(wait)
	}

	// One exporter: the reference, once no alert is pending any more.
	alertsOne := e.waitSettledAlerts()
	from := time.Now().Truncate(time.Millisecond)
	one := make([]dashSnapshot, len(selections))
	for i, sel := range selections {
		one[i] = e.snapshotDashboard(d, sel, from)
	}
	notified := len(e.webhookAlerts())

	// The second exporter joins the job as another instance and serves the
	// same series; then every rule group is evaluated over both.
	second, stop := startSecond()
	defer stop()
	writeScrapeTargets(t, targetsFile, first, second)
	e.waitQuery(fmt.Sprintf(`up{job="dcs", instance=%q} == 1`, second), e2eScrapeTimeout)
	e.waitSameSeries(first, second)
	e.waitRulesEvaluatedAfter(time.Now().Add(rolloutEvalLag))
	joined := time.Since(begin)

	// Two exporters.
	alertsTwo := e.activeAlerts()
	at := time.Now().Truncate(time.Millisecond)
	for i, sel := range selections {
		e.compareSnapshots(d, sel.name, one[i], e.snapshotDashboard(d, sel, at))
	}
	compareAlerts(t, alertsOne, alertsTwo)

	// The second exporter leaves again, as a terminated pod does: it stops
	// at once, and Prometheus marks its series stale at the next failed
	// scrape, some seconds before it drops the target.
	writeScrapeTargets(t, targetsFile, first)
	stop()
	e.waitQuery(fmt.Sprintf(`absent(dcs_exporter_build_info{job="dcs", instance=%q})`, second), e2eScrapeTimeout)
	to := time.Now().Truncate(time.Millisecond)

	// And at every second from the reference until now.
	if to.Truncate(time.Hour).After(from) {
		t.Logf("rollout: the check spanned a full hour after all (it took %v): answers that depend on maintenance windows may differ for that reason", to.Sub(from).Round(time.Second))
	}
	for i, sel := range selections {
		for j, q := range d.queries {
			if keepsValues(q.expr) {
				e.checkSteady(fmt.Sprintf("dashboard with %s: %s", sel.name, q.where), one[i].exprs[j], one[i].answers[j], from, to)
			}
		}
	}
	e.checkSteady("ALERTS", "ALERTS", alertsAsSeries(alertsOne), from, to)
	e.checkNotificationsSince(notified, alertsOne)
	t.Logf("rollout checked: %d dashboard queries with %d selections and %d alerts (%s), with two exporters and over %v (second exporter scraped and evaluated %v after the start)",
		len(d.queries), len(selections), len(alertsOne), alertNames(alertsOne), to.Sub(from).Round(time.Millisecond), joined.Round(time.Millisecond))
}

// dashSnapshot is the dashboard's answer at one moment.
type dashSnapshot struct {
	at        time.Time
	variables [][]string    // values of each variable, sorted
	exprs     []string      // each query, its variables substituted
	answers   []queryResult // the answer to each query
}

func (e *e2e) snapshotDashboard(d *dashboard, sel dashSelection, at time.Time) dashSnapshot {
	e.t.Helper()
	s := dashSnapshot{at: at}
	for _, v := range d.variables {
		values, q, problem := e.variableValues(v, sel.chosen)
		if problem != "" {
			e.t.Errorf("dashboard with %s: variable %s: %s: %s", sel.name, v.name, q, problem)
		}
		s.variables = append(s.variables, slices.Sorted(slices.Values(values)))
	}
	for _, q := range d.queries {
		expr := substituteVariables(e.t, q.expr, sel.chosen)
		s.exprs = append(s.exprs, expr)
		s.answers = append(s.answers, e.queryAt(expr, at))
	}
	return s
}

// compareSnapshots requires the same variable values and, for every query,
// data with the same series and, unless it reads ownMeasurements, the same
// values.
func (e *e2e) compareSnapshots(d *dashboard, selection string, one, two dashSnapshot) {
	t := e.t
	t.Helper()
	for i, v := range d.variables {
		if !slices.Equal(one.variables[i], two.variables[i]) {
			t.Errorf("rollout: dashboard with %s: variable %s offers %v with one exporter, %v with two", selection, v.name, one.variables[i], two.variables[i])
		}
	}
	for i, q := range d.queries {
		a, b := one.answers[i], two.answers[i]
		switch {
		case !a.hasData():
			t.Errorf("rollout: dashboard with %s: %s has no data with one exporter: %s\n  query: %s", selection, q.where, a, one.exprs[i])
		case !b.hasData():
			t.Errorf("rollout: dashboard with %s: %s has no data with two exporters: %s\n  query: %s", selection, q.where, b, two.exprs[i])
		case keepsValues(q.expr) && !slices.Equal(sortedStrings(a.samples), sortedStrings(b.samples)):
			t.Errorf("rollout: dashboard with %s: %s differs with two exporters\n  one: %s\n  two: %s\n  query: %s", selection, q.where, a, b, one.exprs[i])
		case !slices.Equal(seriesKeys(a), seriesKeys(b)):
			t.Errorf("rollout: dashboard with %s: %s shows other series with two exporters\n  one: %v\n  two: %v\n  query: %s", selection, q.where, seriesKeys(a), seriesKeys(b), one.exprs[i])
		}
	}
}

func sortedStrings(s []string) []string { return slices.Sorted(slices.Values(s)) }

// seriesKeys are the labels of each series of an answer, sorted.
func seriesKeys(r queryResult) []string {
	keys := make([]string, len(r.series))
	for i, l := range r.series {
		keys[i] = fmt.Sprint(l)
	}
	return sortedStrings(keys)
}

// waitSameSeries waits until the second exporter is scraped with as many
// series of each of the exporter's metrics as the first (its API request
// counters aside, whose codes are each process's own) and both count as
// builds, so that the comparison sees both.
func (e *e2e) waitSameSeries(first, second string) {
	t := e.t
	t.Helper()
	perName := func(instance string) queryResult {
		return e.query(fmt.Sprintf(`count by (__name__) ({job="dcs", instance=%q, __name__=~"dcs_.+", __name__!="dcs_api_requests_total"})`, instance))
	}
	deadline := time.Now().Add(e2eScrapeTimeout)
	for {
		a, b := perName(first), perName(second)
		builds := e.query(`count(dcs_exporter_build_info{job="dcs"}) == 2`)
		if a.hasData() && slices.Equal(sortedStrings(a.samples), sortedStrings(b.samples)) && builds.hasData() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout: within %v, the second exporter did not come to the first one's series\n  first:  %s\n  second: %s\n  builds: %s", e2eScrapeTimeout, a, b, builds)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// waitRulesEvaluatedAfter waits until every rule group has started an
// evaluation after the moment.
func (e *e2e) waitRulesEvaluatedAfter(moment time.Time) {
	t := e.t
	t.Helper()
	deadline := moment.Add(e2eScrapeTimeout)
	for {
		var late []string
		for _, g := range e.ruleGroups() {
			last, err := time.Parse(time.RFC3339Nano, g.LastEvaluation)
			if err != nil || !last.After(moment) {
				late = append(late, g.Name+" at "+g.LastEvaluation)
			}
		}
		if len(late) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout: rule groups not evaluated after %s: %v", moment.Format(time.RFC3339Nano), late)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// promAlert is one active alert of Prometheus' /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    string            `json:"activeAt"`
	Value       string            `json:"value"` // the alert's $value
}

func (a promAlert) String() string {
	return fmt.Sprintf("%v %s since %s, value %s, annotations %v", a.Labels, a.State, a.ActiveAt, a.Value, a.Annotations)
}

// activeAlerts returns Prometheus' pending and firing alerts.
func (e *e2e) activeAlerts() []promAlert {
	e.t.Helper()
	var ans struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	e.getJSON(e.prom.url("/api/v1/alerts"), &ans)
	if ans.Status != "success" {
		e.t.Fatalf("/api/v1/alerts: status %q", ans.Status)
	}
	return ans.Data.Alerts
}

// waitSettledAlerts waits until some alerts fire and none is pending, so
// that no state changes on its own during the comparison.
func (e *e2e) waitSettledAlerts() []promAlert {
	t := e.t
	t.Helper()
	deadline := time.Now().Add(e2eAlertTimeout)
	for {
		alerts := e.activeAlerts()
		if len(alerts) > 0 && !slices.ContainsFunc(alerts, func(a promAlert) bool { return a.State != "firing" }) {
			return alerts
		}
		if time.Now().After(deadline) {
			t.Fatalf("rollout: within %v, no set of firing alerts without pending ones: %v", e2eAlertTimeout, alerts)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// compareAlerts requires the same alerts, active since the same moment,
// with the same values and annotations.
func compareAlerts(t *testing.T, one, two []promAlert) {
	t.Helper()
	render := func(alerts []promAlert) []string {
		s := make([]string, len(alerts))
		for i, a := range alerts {
			s[i] = a.String()
		}
		return sortedStrings(s)
	}
	a, b := render(one), render(two)
	for _, s := range a {
		if !slices.Contains(b, s) {
			t.Errorf("rollout: with two exporters, this alert is gone or changed: %s", s)
		}
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			t.Errorf("rollout: with two exporters, this alert is new or changed: %s", s)
		}
	}
}

// alertsAsSeries are the ALERTS series of the alerts, each with value 1.
func alertsAsSeries(alerts []promAlert) queryResult {
	var r queryResult
	for _, a := range alerts {
		l := map[string]string{"__name__": "ALERTS", "alertstate": a.State}
		for k, v := range a.Labels {
			l[k] = v
		}
		r.series = append(r.series, l)
		r.values = append(r.values, "1")
	}
	return r
}

func alertNames(alerts []promAlert) string {
	var names []string
	for _, a := range alerts {
		if !slices.Contains(names, a.Labels["alertname"]) {
			names = append(names, a.Labels["alertname"])
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// checkSteady requires that a query, evaluated at every second from from
// to to, has exactly the series of want, each at every step with want's
// value.
func (e *e2e) checkSteady(what, query string, want queryResult, from, to time.Time) {
	t := e.t
	t.Helper()
	wantValue := map[string]string{}
	for i, l := range want.series {
		wantValue[fmt.Sprint(l)] = want.values[i]
	}
	got, problem := e.queryRange(query, from, to, time.Second)
	if problem != "" {
		t.Errorf("rollout: %s: %s\n  query: %s", what, problem, query)
		return
	}
	steps := int(to.Sub(from)/time.Second) + 1
	at := func(ts float64) time.Duration {
		return time.Duration(ts*1e3)*time.Millisecond - time.Duration(from.UnixMilli())*time.Millisecond
	}
	for _, key := range slices.Sorted(maps.Keys(got)) {
		points := got[key]
		w, ok := wantValue[key]
		if !ok {
			t.Errorf("rollout: %s: series %s appeared, %v after the reference\n  query: %s", what, key, at(points[0].ts), query)
			continue
		}
		if len(points) != steps {
			t.Errorf("rollout: %s: series %s is missing at %d of %d steps\n  query: %s", what, key, steps-len(points), steps, query)
		}
		for _, p := range points {
			if p.value != w {
				t.Errorf("rollout: %s: series %s was %s, not %s, %v after the reference\n  query: %s", what, key, p.value, w, at(p.ts), query)
				break
			}
		}
	}
	for key := range wantValue {
		if _, ok := got[key]; !ok {
			t.Errorf("rollout: %s: series %s vanished\n  query: %s", what, key, query)
		}
	}
}

type rangePoint struct {
	ts    float64 // Unix seconds
	value string
}

// queryRange runs a range query; it returns the points of each series by
// its labels, or the API's error.
func (e *e2e) queryRange(q string, from, to time.Time, step time.Duration) (map[string][]rangePoint, string) {
	e.t.Helper()
	params := url.Values{"query": {q}, "start": {promTime(from)}, "end": {promTime(to)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	var ans promAnswer
	e.getJSON(e.prom.url("/api/v1/query_range?"+params.Encode()), &ans)
	if ans.Status != "success" {
		return nil, ans.ErrorType + ": " + ans.Error
	}
	var data struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(ans.Data, &data); err != nil {
		return nil, err.Error()
	}
	if data.ResultType != "matrix" {
		return nil, "unexpected result type " + data.ResultType
	}
	out := map[string][]rangePoint{}
	for _, s := range data.Result {
		key := fmt.Sprint(s.Metric)
		for _, v := range s.Values {
			ts, _ := v[0].(float64)
			value, _ := v[1].(string)
			out[key] = append(out[key], rangePoint{ts: ts, value: value})
		}
	}
	return out, ""
}

// promTime is a time as Prometheus' HTTP API takes it, to the millisecond.
func promTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64)
}

// checkNotificationsSince requires that the webhook, from its delivery
// number notified on, heard of no alert but the reference's, and of none
// of those as resolved.
func (e *e2e) checkNotificationsSince(notified int, reference []promAlert) {
	t := e.t
	t.Helper()
	known := func(labels map[string]string) bool {
		return slices.ContainsFunc(reference, func(a promAlert) bool { return maps.Equal(a.Labels, labels) })
	}
	received := e.webhookAlerts()
	for _, a := range received[notified:] {
		switch {
		case a.Status == "firing" && !known(a.Labels):
			t.Errorf("rollout: Alertmanager notified a new alert: %v", a.Labels)
		case a.Status != "firing" && known(a.Labels):
			t.Errorf("rollout: Alertmanager notified the alert as %s: %v", a.Status, a.Labels)
		}
	}
}
