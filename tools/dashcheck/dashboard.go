// dashboard.go loads the dashboard strictly and checks its structure:
// grafana.com import metadata, variables, data sources, panels and links.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/prometheus/common/model"
)

// datasourceVar is how every panel and query must name its data source, so
// that the importer's choice (and the variable) applies everywhere.
const datasourceVar = "${datasource}"

// multiVars are the filter variables every dashboard of the exporter has;
// each is a multi-value query variable with "All". cluster comes from the
// Prometheus setup, not the exporter, and may have no value at all: its
// "All" (.*) then matches series without the label.
var multiVars = []string{"cluster", "target", "region", "project_id", "engine"}

// exportMeta is what grafana.com's export adds around the dashboard model;
// the SDK's Dashboard type does not know these keys.
type exportMeta struct {
	Inputs   []exportInput              `json:"__inputs"`
	Elements map[string]json.RawMessage `json:"__elements"`
	Requires []exportRequire            `json:"__requires"`
}

type exportInput struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Description string `json:"description"`
	Type        string `json:"type"`
	PluginID    string `json:"pluginId"`
	PluginName  string `json:"pluginName"`
}

type exportRequire struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// dashQuery is one PromQL expression of the dashboard.
type dashQuery struct {
	where       string
	expr        string
	minInterval time.Duration // the panel's or query's "Min interval", 0 if none
	variable    bool          // a variable's label_values() selector
}

type dashResult struct {
	panels  int
	queries []dashQuery
}

func checkDashboardFile(file string, rb *runbook) (dashResult, []error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return dashResult{}, []error{err}
	}
	return checkDashboard(data, rb)
}

// checkDashboard returns the dashboard's queries and every problem found.
// With a runbook, links into it must name one of its sections.
func checkDashboard(data []byte, rb *runbook) (dashResult, []error) {
	var res dashResult
	d, meta, errs := decodeDashboard(data)
	if d == nil {
		return res, errs
	}
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	// grafana.com import metadata.
	if !slices.ContainsFunc(meta.Inputs, func(in exportInput) bool {
		return in.Name == "DS_PROMETHEUS" && in.Type == "datasource" && in.PluginID == "prometheus"
	}) {
		fail("__inputs must declare the data source input DS_PROMETHEUS (pluginId prometheus)")
	}
	requires := map[string]bool{}
	for _, r := range meta.Requires {
		requires[r.Type+"/"+r.ID] = true
	}
	for _, need := range []string{"grafana/grafana", "datasource/prometheus"} {
		if !requires[need] {
			fail("__requires lacks %s", need)
		}
	}
	if d.Id != nil {
		fail("id must be null in an exported dashboard")
	}
	if d.Title == nil || *d.Title == "" || d.Uid == nil || *d.Uid == "" {
		fail("title and uid are required")
	}
	if len(d.Panels) == 0 {
		fail("the dashboard has no panels")
	}

	// Variables.
	vars := map[string]dashboard.VariableModel{}
	for _, v := range d.Templating.List {
		if _, dup := vars[v.Name]; dup {
			fail("variable %s is defined twice", v.Name)
		}
		vars[v.Name] = v
	}
	if ds, ok := vars["datasource"]; !ok || ds.Type != dashboard.VariableTypeDatasource || variableQuery(ds) != "prometheus" {
		fail("a data source variable named datasource (query prometheus) is required")
	}
	for _, name := range multiVars {
		v, ok := vars[name]
		if !ok {
			fail("variable %s is missing", name)
			continue
		}
		if v.Type != dashboard.VariableTypeQuery || !isTrue(v.Multi) || !isTrue(v.IncludeAll) {
			fail("variable %s must be a multi-value query variable with All", name)
		}
		if v.AllValue == nil || *v.AllValue != ".*" {
			fail("variable %s: All must stand for .* (allValue), so that series without the label match", name)
		}
		if dsUID(v.Datasource) != datasourceVar {
			fail("variable %s must use the %s data source", name, datasourceVar)
		}
		m := labelValuesRE.FindStringSubmatch(variableQuery(v))
		if m == nil || m[2] != name {
			fail("variable %s must be label_values(<selector>, %s), got %q", name, name, variableQuery(v))
			continue
		}
		res.queries = append(res.queries, dashQuery{where: "variable " + name, expr: m[1], variable: true})
	}

	// Panels, rows included; collapsed rows hold their panels themselves.
	var panels []*dashboard.Panel
	ids := map[uint32]string{}
	seenID := func(id uint32, title string) {
		if other, dup := ids[id]; dup {
			fail("panel id %d is used by %q and %q", id, other, title)
		}
		ids[id] = title
	}
	for i := range d.Panels {
		p := &d.Panels[i]
		switch {
		case p.RowPanel != nil:
			seenID(p.RowPanel.Id, deref(p.RowPanel.Title))
			for j := range p.RowPanel.Panels {
				panels = append(panels, &p.RowPanel.Panels[j])
			}
		case p.Panel != nil:
			panels = append(panels, p.Panel)
		}
	}
	res.panels = len(panels)
	for _, p := range panels {
		where := fmt.Sprintf("panel %q", deref(p.Title))
		if p.Id == nil {
			fail("%s: no id", where)
		} else {
			seenID(*p.Id, deref(p.Title))
		}
		if !requires["panel/"+p.Type] {
			fail("__requires lacks panel %s", p.Type)
		}
		if p.GridPos == nil {
			fail("%s: no gridPos", where)
		}
		if deref(p.Description) == "" {
			fail("%s: no description; say what the panel shows and where it comes from", where)
		}
		if dsUID(p.Datasource) != datasourceVar {
			fail("%s: must use the %s data source", where, datasourceVar)
		}
		panelMin, err := grafanaDuration(deref(p.Interval))
		if err != nil {
			fail("%s: interval: %v", where, err)
		}
		if len(p.Targets) == 0 {
			fail("%s: no queries", where)
		}
		for _, t := range p.Targets {
			q, ok := t.(*prometheus.Dataquery)
			if !ok {
				fail("%s: a query is not a Prometheus query (%T)", where, t)
				continue
			}
			qwhere := where + " query " + deref(q.RefId)
			if dsUID(q.Datasource) != datasourceVar {
				fail("%s: must use the %s data source", qwhere, datasourceVar)
			}
			if strings.TrimSpace(q.Expr) == "" {
				fail("%s: no expr", qwhere)
				continue
			}
			minInterval := panelMin
			if q.Interval != nil && *q.Interval != "" {
				if minInterval, err = grafanaDuration(*q.Interval); err != nil {
					fail("%s: interval: %v", qwhere, err)
				}
			}
			res.queries = append(res.queries, dashQuery{where: qwhere, expr: q.Expr, minInterval: minInterval})
		}
		for _, l := range p.Links {
			errs = append(errs, checkRunbookLink(where, deref(l.Url), rb)...)
		}
	}

	// Annotations with a PromQL expression.
	for _, a := range d.Annotations.List {
		if a.Expr != nil && *a.Expr != "" {
			if dsUID(a.Datasource) != datasourceVar {
				fail("annotation %q must use the %s data source", a.Name, datasourceVar)
			}
			res.queries = append(res.queries, dashQuery{where: fmt.Sprintf("annotation %q", a.Name), expr: *a.Expr})
		}
	}

	// Links: the runbook must be one click away.
	runbookLinks := 0
	for _, l := range d.Links {
		if strings.Contains(deref(l.Url), runbookPath) {
			runbookLinks++
		}
		errs = append(errs, checkRunbookLink("dashboard link "+l.Title, deref(l.Url), rb)...)
	}
	if runbookLinks == 0 {
		fail("the dashboard has no link to the runbook (%s)", runbookPath)
	}

	for _, q := range res.queries {
		errs = append(errs, checkQuery(q)...)
	}
	return res, errs
}

// decodeDashboard checks for duplicate keys, splits off grafana.com's
// export metadata and decodes the rest strictly into the SDK's Dashboard.
//
// The SDK marks dashboard.Dashboard deprecated in favour of the v2 schema,
// but dashboards exported for grafana.com still use this (v1) JSON model.
//
//nolint:staticcheck // the v1 JSON model is the one the file is written in
func decodeDashboard(data []byte) (*dashboard.Dashboard, exportMeta, []error) {
	var meta exportMeta
	if err := noDuplicateKeys(data); err != nil {
		return nil, meta, []error{err}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, meta, []error{fmt.Errorf("invalid JSON: %w", err)}
	}
	exported := map[string]json.RawMessage{}
	for k, v := range top {
		if strings.HasPrefix(k, "__") {
			exported[k] = v
			delete(top, k)
		}
	}
	var errs []error
	if b, err := json.Marshal(exported); err != nil {
		errs = append(errs, err)
	} else if err := strictJSON(b, &meta); err != nil {
		errs = append(errs, fmt.Errorf("grafana.com export metadata: %w", err))
	}

	// The SDK decodes panel options and queries through its registry of
	// panel and data source plugins; without them they would stay untyped.
	plugins.RegisterDefaultPlugins()
	rest, err := json.Marshal(top)
	if err != nil {
		return nil, meta, append(errs, err)
	}
	// The strict decoder finds the problems. Its results are not used: in
	// v0.0.22 a panel, query or options object that decodes without problem
	// comes back with an empty error list as a non-nil error, and the union
	// decoders (panel or row, data queries) then drop it. The SDK's regular
	// decoder reads the values.
	errs = append(errs, buildErrors((&dashboard.Dashboard{}).UnmarshalJSONStrict(rest))...)
	d := &dashboard.Dashboard{}
	if err := json.Unmarshal(rest, d); err != nil {
		return nil, meta, append(errs, err)
	}
	return d, meta, errs
}

// buildErrors flattens the SDK's error list; an empty list is no error.
func buildErrors(err error) []error {
	var many cog.BuildErrors
	if !errors.As(err, &many) {
		if err != nil {
			return []error{err}
		}
		return nil
	}
	out := make([]error, len(many))
	for i, e := range many {
		out[i] = e
	}
	return out
}

// strictJSON decodes data into v, rejecting unknown fields.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// noDuplicateKeys reports the first object key that occurs twice in the
// same object: encoding/json would silently keep the last one.
func noDuplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid JSON at %s: %w", path, err)
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return fmt.Errorf("invalid JSON at %s: %w", path, err)
				}
				key, _ := kt.(string)
				if seen[key] {
					return fmt.Errorf("duplicate key %q at %s", key, path)
				}
				seen[key] = true
				if err := walk(path + "." + key); err != nil {
					return err
				}
			}
			_, err = dec.Token() // '}'
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token() // ']'
			return err
		}
		return nil
	}
	if err := walk("$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("invalid JSON: data after the dashboard object")
	}
	return nil
}

var labelValuesRE = regexp.MustCompile(`(?s)^\s*label_values\((.*),\s*(\w+)\s*\)\s*$`)

func variableQuery(v dashboard.VariableModel) string {
	switch {
	case v.Query == nil:
		return ""
	case v.Query.String != nil:
		return *v.Query.String
	default:
		q, _ := v.Query.Map["query"].(string)
		return q
	}
}

// grafanaDuration parses Grafana's interval notation ("30s", "2m", "1d");
// an empty string is no interval.
func grafanaDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := model.ParseDuration(strings.TrimPrefix(s, ">"))
	return time.Duration(d), err
}

func dsUID(ref *common.DataSourceRef) string {
	if ref == nil {
		return ""
	}
	return deref(ref.Uid)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func isTrue(b *bool) bool { return b != nil && *b }
