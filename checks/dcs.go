package checks

// This file is --dcs.check: one status call per target, explained.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

// DCSOptions tune the API check.
type DCSOptions struct {
	// MaxConcurrency bounds the targets checked at once, as
	// --dcs.max-concurrency bounds the exporter's API calls.
	MaxConcurrency int
	UserAgent      string
}

// TargetResult is what the API check found for one target.
type TargetResult struct {
	Name string
	// Total and NotRunning are the status API's counts over all engines.
	Total, NotRunning int64
	// Listed is set when the target has instances: true and the list API
	// answered; Listable is then the number of instances it announced.
	Listed   bool
	Listable int
	// Topology is what the node and backup checks found, in words; empty
	// when the target has neither on.
	Topology string
	// Statistics is set when the target has statistics: true and the
	// statistics API answered; Running is then the instances it covers.
	Statistics bool
	Running    int
	// Quota is set when the target has quota: true and the quota API
	// answered, with what it said.
	Quota       bool
	QuotaReport *dcsapi.QuotaReport
	// Failure is nil when the target answered every call.
	Failure *diagnosis.Finding
}

// DCS makes one status call per target (and, for targets with instances:
// true, asks for a one-item page of the listing), prints one line per target
// and reports whether every target answered.
func DCS(ctx context.Context, w io.Writer, cfg *config.Config, o DCSOptions) (bool, error) {
	results, err := CheckDCS(ctx, cfg, o)
	if err != nil {
		return false, err
	}
	return PrintDCS(w, results)
}

// CheckDCS checks every target of cfg, at most o.MaxConcurrency at a time,
// each within its own timeout. The results are in the order of cfg.
func CheckDCS(ctx context.Context, cfg *config.Config, o DCSOptions) ([]TargetResult, error) {
	// The exporter's own targets, so that the check uses the same clients,
	// transports and credential providers as a running exporter. One
	// attempt per call: the check reports what the API says, and a
	// throttled answer is worth showing rather than waiting out.
	exp := collector.New(collector.Options{
		MaxConcurrency: max(1, o.MaxConcurrency),
		UserAgent:      o.UserAgent,
		Retry:          &dcsapi.RetryPolicy{MaxAttempts: 1},
	})
	if err := exp.ApplyConfig(cfg); err != nil {
		return nil, err
	}
	defer exp.CloseIdleConnections()

	results := make([]TargetResult, len(cfg.Targets))
	slots := make(chan struct{}, max(1, o.MaxConcurrency))
	var wg sync.WaitGroup
	for i, tc := range cfg.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				f := diagnosis.Diagnose(diagnosis.StepStatus, ctx.Err(), tc)
				results[i] = TargetResult{Name: tc.Name, Failure: &f}
				return
			}
			defer func() { <-slots }()
			results[i] = checkTarget(ctx, exp.Target(tc.Name).Client(), tc)
		}()
	}
	wg.Wait()
	return results, nil
}

// checkTarget takes a target through the steps of a query one by one, so
// that a failure names its step: the project lookup (when project_id is not
// set), the status call, the listing permission, then the statistics and
// quota calls of the targets that read them.
func checkTarget(ctx context.Context, client *dcsapi.Client, tc config.Target) TargetResult {
	r := TargetResult{Name: tc.Name}
	fail := func(step diagnosis.Step, err error) TargetResult {
		f := diagnosis.Diagnose(step, err, tc)
		r.Failure = &f
		return r
	}

	// The lookup and the status call share one timeout, as in a scrape.
	queryCtx, cancel := context.WithTimeout(ctx, tc.Timeout)
	defer cancel()
	if tc.ProjectID == "" {
		if _, err := client.ProjectID(queryCtx); err != nil {
			return fail(diagnosis.StepIAMLookup, err)
		}
	}
	report, err := client.InstanceStatus(queryCtx, tc.IncludeFailure)
	if err != nil {
		return fail(diagnosis.StepStatus, err)
	}
	r.Total, r.NotRunning = collector.InstanceTotals(report)

	if tc.Instances {
		listCtx, cancel := context.WithTimeout(ctx, tc.Timeout)
		defer cancel()
		n, err := client.CountInstances(listCtx)
		if err != nil {
			return fail(diagnosis.StepListing, err)
		}
		r.Listed, r.Listable = true, n
	}
	if step, err := checkTopology(ctx, client, tc, &r); err != nil {
		return fail(step, err)
	}
	if tc.Statistics {
		statsCtx, cancel := context.WithTimeout(ctx, tc.Timeout)
		defer cancel()
		report, err := client.InstanceStatistics(statsCtx)
		if err != nil {
			return fail(diagnosis.StepStatistics, err)
		}
		r.Statistics, r.Running = true, len(report.Instances)
	}
	if tc.Quota {
		quotaCtx, cancel := context.WithTimeout(ctx, tc.Timeout)
		defer cancel()
		report, err := client.Quota(quotaCtx)
		if err != nil {
			return fail(diagnosis.StepQuota, err)
		}
		r.Quota, r.QuotaReport = true, report
	}
	return r
}

// quotaLine says what the quota API answered, e.g. "quota 12 of 50
// instances, 40 of 800 GB".
func quotaLine(r *dcsapi.QuotaReport) string {
	var parts []string
	for _, res := range []struct{ typ, unit string }{{dcsapi.QuotaInstances, " instances"}, {dcsapi.QuotaMemory, " GB"}} {
		q, ok := r.Resource(res.typ)
		if !ok || !q.Has(dcsapi.QuotaLimit|dcsapi.QuotaUsed) {
			continue
		}
		unit := res.unit
		if q.Unit != "" && res.typ == dcsapi.QuotaMemory {
			unit = " " + q.Unit
		}
		parts = append(parts, fmt.Sprintf("%d of %d%s", q.Used, q.Quota, unit))
	}
	if len(parts) == 0 {
		return "quota answered without usable values"
	}
	return "quota " + strings.Join(parts, ", ")
}

// PrintDCS writes one aligned line per target and a closing count, and
// reports whether every target answered.
func PrintDCS(w io.Writer, results []TargetResult) (bool, error) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := &printer{w: tw}
	p.printf("TARGET\tRESULT\tDETAILS\n")
	failed := 0
	for _, r := range results {
		if r.Failure != nil {
			failed++
			line := r.Failure.Summary()
			if r.Failure.Hint != "" {
				line += " | hint: " + r.Failure.Hint
			}
			p.printf("%s\tFAILED\t%s\n", oneLine(r.Name), oneLine(line))
			continue
		}
		line := fmt.Sprintf("%d instances, %d not running", r.Total, r.NotRunning)
		if r.Listed {
			line += fmt.Sprintf("; listing allowed (%d instances)", r.Listable)
		}
		line += r.Topology
		if r.Statistics {
			line += fmt.Sprintf("; statistics of %d running instances", r.Running)
		}
		if r.Quota {
			line += "; " + quotaLine(r.QuotaReport)
		}
		p.printf("%s\tok\t%s\n", oneLine(r.Name), line)
	}
	if p.err != nil {
		return false, p.err
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}
	end := &printer{w: w}
	if failed == 0 {
		end.printf("\nAll %d targets answered.\n", len(results))
	} else {
		end.printf("\n%d of %d targets failed.\n", failed, len(results))
	}
	return failed == 0, end.err
}
