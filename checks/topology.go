package checks

// This file says, for --config.check and --dcs.check, what the nodes and
// backups sources of a target will do and cost.

import (
	"context"
	"fmt"
	"time"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/config"
	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

// nodesOf says whether the target walks its nodes, and which instances get
// no node series: the API covers Redis 4.0 and later ("Available for Redis
// 4.0 and later instances", api-ref "Querying Instance Nodes in Batches";
// docs/fleet-apis.md, logical nodes).
func nodesOf(t config.Target) string {
	if !t.Nodes {
		return "disabled"
	}
	return "enabled (one call per 100 instances at --dcs.instances-refresh-interval); " +
		"no node series for Memcached, Redis 3.0 and instances being created, which the API does not cover"
}

// backupsOf says whether the target reads backup records, what that costs
// an hour, and that it needs the listing.
func backupsOf(t config.Target) string {
	if !t.Backups {
		return "disabled"
	}
	if !t.Instances {
		return "NOT ACTIVE: needs instances: true, whose listing tells which instances can be backed up"
	}
	return fmt.Sprintf("enabled, every %s: %s calls an hour per instance that can be backed up (Redis but single-node), at most 4 at a time",
		t.BackupsInterval, perHour(1, t.BackupsInterval))
}

// perHour is n calls every interval, as calls an hour, without a
// needless fraction.
func perHour(n int, interval time.Duration) string {
	v := float64(n) * float64(time.Hour) / float64(interval)
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}

// checkTopology walks the nodes of a target with nodes: true, and for one
// with backups: true lists its instances and reads the records of the
// first that can be backed up, so that a missing permission or a cloud
// without the API shows now, with its hint. It notes in r what it found:
// how many instances the nodes API covers, and the backup calls an hour.
func checkTopology(ctx context.Context, client *dcsapi.Client, tc config.Target, r *TargetResult) (diagnosis.Step, error) {
	if tc.Nodes {
		report, err := client.Nodes(ctx, dcsapi.NodesOptions{ListOptions: dcsapi.ListOptions{PageTimeout: tc.Timeout}})
		if err != nil {
			return diagnosis.StepNodes, err
		}
		nodes := 0
		for _, in := range report.Instances {
			nodes += len(in.Nodes)
		}
		r.Topology += fmt.Sprintf("; nodes allowed (%d instances covered, %d nodes)", len(report.Instances), nodes)
	}
	if !tc.Backups || !tc.Instances {
		return "", nil
	}
	list, err := client.ListInstancesWith(ctx, dcsapi.ListOptions{PageTimeout: tc.Timeout})
	if err != nil {
		return diagnosis.StepListing, err
	}
	var eligible []string
	for _, in := range list {
		if collector.BackupEligible(in.Engine, in.SpecCode, in.Status) {
			eligible = append(eligible, in.ID)
		}
	}
	if len(eligible) == 0 {
		r.Topology += "; backups not checked: no instance can be backed up"
		return "", nil
	}
	callCtx, cancel := context.WithTimeout(ctx, tc.Timeout)
	defer cancel()
	if _, err := client.Backups(callCtx, eligible[0], dcsapi.BackupsOptions{Begin: time.Now().Add(-7 * 24 * time.Hour)}); err != nil {
		return diagnosis.StepBackups, err
	}
	r.Topology += fmt.Sprintf("; backups allowed (%d instances can be backed up: %s calls an hour)", len(eligible), perHour(len(eligible), tc.BackupsInterval))
	return "", nil
}
