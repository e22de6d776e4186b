package statuspage

// This file describes a target's nodes and backups sources: what their
// last results hold, what the backups cost in the last hour, and the
// diagnosis of a failing one.

import (
	"fmt"
	"strings"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

func nodesDown(ts *collector.TargetStatus) bool {
	return ts.Nodes != nil && ts.Nodes.Attempted && !ts.Nodes.Up
}

func backupsDown(ts *collector.TargetStatus) bool {
	return ts.Backups != nil && ts.Backups.Attempted && !ts.Backups.Up
}

func topologyDown(ts *collector.TargetStatus) bool { return nodesDown(ts) || backupsDown(ts) }

// topologyFailing names the failing sources, for the target's state.
func topologyFailing(ts *collector.TargetStatus) string {
	switch {
	case nodesDown(ts) && backupsDown(ts):
		return "nodes and backups failing"
	case nodesDown(ts):
		return "nodes failing"
	}
	return "backups failing"
}

// topology describes the nodes and backups in one line, e.g. "nodes: 120
// instances, 480 nodes, 1 not Active, walked 2m0s ago; backups: 100
// instances, 1 failed, 100 calls in the last hour", and diagnoses the
// failing ones.
func topology(ts *collector.TargetStatus, now time.Time) (string, []diagnosis.Finding) {
	var parts []string
	var findings []diagnosis.Finding
	if n := ts.Nodes; n != nil {
		s := "nodes: "
		switch {
		case n.Running && !n.Attempted:
			s += "first walk running"
		case !n.Attempted:
			s += "not walked yet"
		case n.LastSuccess.IsZero():
			s += "failing, never walked"
		default:
			s += fmt.Sprintf("%d instances, %d nodes, %d not Active, walked %s ago", n.Instances, n.Nodes, n.NotActive, age(n.LastSuccess, now))
			if !n.Up {
				s = "nodes: failing; " + strings.TrimPrefix(s, "nodes: ")
			}
		}
		parts = append(parts, s)
		if nodesDown(ts) && n.LastError != nil {
			findings = append(findings, diagnosis.Diagnose(diagnosis.StepNodes, n.LastError, ts.Config))
		}
	}
	if b := ts.Backups; b != nil {
		var s string
		switch {
		case !b.Active:
			s = "backups: not active (needs instances: true)"
		case !b.Attempted:
			s = fmt.Sprintf("backups: not read yet; %d calls in the last hour", b.CallsLastHour)
		default:
			s = fmt.Sprintf("backups: %d of %d instances read, %d whose last backup failed, %d calls in the last hour",
				b.Instances, b.Eligible, b.Failed, b.CallsLastHour)
			if !b.Up {
				s = "backups: failing; " + strings.TrimPrefix(s, "backups: ")
			}
		}
		parts = append(parts, s)
		if backupsDown(ts) && b.LastError != nil {
			findings = append(findings, diagnosis.Diagnose(diagnosis.StepBackups, b.LastError, ts.Config))
		}
	}
	return strings.Join(parts, "; "), findings
}
