package exposition

// This file is the table of the per-target metric families, in output
// order, and the rendered series of one target, family by family.

import "bytes"

// Family is one metric family of the per-target output. The exporter writes
// these in the Prometheus text format itself, rather than through
// client_golang's registry, so that a cached target costs nothing to serve:
// its lines are rendered once per change and then copied.
type Family int

// The per-target families, in output order. A source's families sit
// together; a new source adds its own at the end, before NumFamilies.
const (
	// The status source.
	FamUp Family = iota
	FamScrapeDuration
	FamLastSuccess
	FamInstances
	FamInstancesAllEngines
	// Every source's calls.
	FamAPIRequests
	// The listing source.
	FamInstanceInfo
	FamInstanceStatus
	FamInstanceMemoryMax
	FamInstanceMemoryUsed
	FamInstanceCapacity
	FamInstanceCreated
	FamInstanceUpgradePending
	FamInstanceMaintenance
	FamListingUp
	FamListingMismatch
	// The nodes source (nodes.go).
	FamNodesUp
	FamInstanceNodes
	FamNodeInfo
	FamMasterChanges
	FamSingleAZ
	// The backups source (backups.go).
	FamBackupsUp
	FamBackupLastSuccess
	FamBackupLastFailure
	FamBackupInProgress
	// The statistics source; it also renders dcs_instance_memory_*_bytes
	// in the listing's place when the target has statistics: true.
	FamInstanceKeys
	FamInstanceNetworkReceive
	FamInstanceNetworkTransmit
	FamStatisticsUp
	// The quota source.
	FamQuotaInstancesLimit
	FamQuotaInstancesUsed
	FamQuotaMemoryLimit
	FamQuotaMemoryUsed
	FamQuotaUp
	NumFamilies
)

type family struct {
	name, help, typ string
}

var families = [NumFamilies]family{
	FamUp:                      {"dcs_up", "Whether the last query of the target's instance status succeeded (1) or failed (0).", "gauge"},
	FamScrapeDuration:          {"dcs_scrape_duration_seconds", "How long the last query of the target's instance status took.", "gauge"},
	FamLastSuccess:             {"dcs_last_success_timestamp_seconds", "Unix time of the target's last successful instance status query.", "gauge"},
	FamInstances:               {"dcs_instances", "Number of DCS instances in each state, per engine, as the status API counts them.", "gauge"},
	FamInstancesAllEngines:     {"dcs_instances_all_engines", "Number of DCS instances in each state over all engines, as the status API counts them.", "gauge"},
	FamAPIRequests:             {"dcs_api_requests_total", "API calls made for the target, by API and HTTP status code (\"error\" when there was no answer).", "counter"},
	FamInstanceInfo:            {"dcs_instance_info", "Information about a DCS instance: its name, engine, spec, billing, enterprise project (\"0\" is the default one) and, as tag_<key>, the tags the target's instance_tags lists; always 1.", "gauge"},
	FamInstanceStatus:          {"dcs_instance_status", "The current status of a DCS instance, as the API spells it; always 1.", "gauge"},
	FamInstanceMemoryMax:       {"dcs_instance_memory_max_bytes", "Memory available to the cache of a DCS instance: from the statistics API for running instances when the target has statistics: true, else from the listing.", "gauge"},
	FamInstanceMemoryUsed:      {"dcs_instance_memory_used_bytes", "Memory used by the cache of a DCS instance: from the statistics API for running instances when the target has statistics: true, else from the listing.", "gauge"},
	FamInstanceCapacity:        {"dcs_instance_capacity_bytes", "Cache capacity of a DCS instance.", "gauge"},
	FamInstanceCreated:         {"dcs_instance_created_timestamp_seconds", "Unix time at which a DCS instance was created; absent when the API does not say.", "gauge"},
	FamInstanceUpgradePending:  {"dcs_instance_upgrade_pending", "Whether an upgrade task is pending for a DCS instance (1) or not (0); absent when the API does not say.", "gauge"},
	FamInstanceMaintenance:     {"dcs_instance_maintenance_window_active", "Whether the current UTC time is inside a DCS instance's daily maintenance window (1) or not (0): from its begin, included, to its end, excluded, past midnight when the end comes first; absent when the API gives no valid window.", "gauge"},
	FamListingUp:               {"dcs_instances_listing_up", "Whether the last listing of the target's instances succeeded (1) or failed (0).", "gauge"},
	FamListingMismatch:         {"dcs_instances_listing_mismatch", "Instances per state in the listing minus the status API's count; non-zero means the two APIs disagree.", "gauge"},
	FamNodesUp:                 {"dcs_nodes_up", "Whether the last walk of the target's logical nodes succeeded (1) or failed (0).", "gauge"},
	FamInstanceNodes:           {"dcs_instance_nodes", "Logical nodes of a DCS instance per node type and status; every documented status is written, 0 when none, for each type the instance has.", "gauge"},
	FamNodeInfo:                {"dcs_node_info", "Information about a logical node of a DCS instance: its name, shard (group_name), type (master, slave, proxy), role (redis-server, redis-proxy) and availability zone; always 1.", "gauge"},
	FamMasterChanges:           {"dcs_instance_master_changes_total", "Master changes of a DCS instance's shards seen between two walks of its nodes, since the exporter started: the failover signal.", "counter"},
	FamSingleAZ:                {"dcs_instance_single_az", "Whether every shard of a DCS instance with two or more redis-server nodes has all of them in one availability zone (1) or not (0); absent when no shard has two.", "gauge"},
	FamBackupsUp:               {"dcs_backups_up", "Whether the target's last backup records call succeeded (1) or failed (0).", "gauge"},
	FamBackupLastSuccess:       {"dcs_instance_backup_last_success_timestamp_seconds", "Unix time at which the newest successful backup of a DCS instance completed, within the last 7 days.", "gauge"},
	FamBackupLastFailure:       {"dcs_instance_backup_last_failure_timestamp_seconds", "Unix time of the newest failed backup of a DCS instance within the last 7 days, with its error code (\"unknown\" when the API gives none).", "gauge"},
	FamBackupInProgress:        {"dcs_instance_backup_in_progress", "Whether a backup of a DCS instance is waiting or running (1) or not (0).", "gauge"},
	FamInstanceKeys:            {"dcs_instance_keys", "Number of keys (cached data records) of a running DCS instance, from the statistics API.", "gauge"},
	FamInstanceNetworkReceive:  {"dcs_instance_network_receive_bytes_per_second", "Incoming network traffic of a running DCS instance, from the statistics API's input_kbps read as kbit/s.", "gauge"},
	FamInstanceNetworkTransmit: {"dcs_instance_network_transmit_bytes_per_second", "Outgoing network traffic of a running DCS instance, from the statistics API's output_kbps read as kbit/s.", "gauge"},
	FamStatisticsUp:            {"dcs_statistics_up", "Whether the last call of the target's statistics API succeeded (1) or failed (0).", "gauge"},
	FamQuotaInstancesLimit:     {"dcs_quota_instances_limit", "Number of DCS instances the project may have (its quota).", "gauge"},
	FamQuotaInstancesUsed:      {"dcs_quota_instances_used", "Number of DCS instances counted against the project's quota.", "gauge"},
	FamQuotaMemoryLimit:        {"dcs_quota_memory_limit_bytes", "Total DCS memory the project may have (its quota).", "gauge"},
	FamQuotaMemoryUsed:         {"dcs_quota_memory_used_bytes", "Total DCS memory counted against the project's quota.", "gauge"},
	FamQuotaUp:                 {"dcs_quota_up", "Whether the last call of the target's quota API succeeded (1) or failed (0).", "gauge"},
}

// Name returns the family's metric name.
func (f Family) Name() string { return families[f].name }

// instanceFamilies are the families with one series per instance that a
// listing renders once. dcs_instance_maintenance_window_active has one per
// instance too, but its values follow the clock (see window.go).
var instanceFamilies = [...]Family{FamInstanceInfo, FamInstanceStatus, FamInstanceMemoryMax, FamInstanceMemoryUsed,
	FamInstanceCapacity, FamInstanceCreated, FamInstanceUpgradePending}

// InstanceFamilies returns the families a listing renders once per
// listing, one series per instance, in output order.
func InstanceFamilies() []Family { return append([]Family(nil), instanceFamilies[:]...) }

// headless marks the families with one series per instance. Their lines
// are kept without the metric name and the target's labels, which are the
// same on every line and would be most of a fleet's text: the writer puts
// them in front of each line (see appendHeadless).
var headless = func() (m [NumFamilies]bool) {
	for _, f := range instanceFamilies {
		m[f] = true
	}
	for _, f := range statisticFamilies {
		m[f] = true
	}
	m[FamInstanceMaintenance] = true
	for _, f := range nodeFamilies {
		m[f] = true
	}
	for _, f := range backupFamilies {
		m[f] = true
	}
	return m
}()

// PerInstance reports whether the family has one series per instance.
func (f Family) PerInstance() bool { return headless[f] }

// Series is one target's rendered sample lines, family by family, without
// the HELP and TYPE lines, which are written once for all targets. It never
// changes once rendered: scrapes still writing one out read it after a
// newer one has replaced it.
type Series struct {
	lines  [NumFamilies][]byte
	prefix string // the target's labels, for the lines of per-instance families
}

// Lines returns the series' lines of family f; those of a per-instance
// family lack the metric name and the target's labels, which the writers
// add.
func (s *Series) Lines(f Family) []byte { return s.lines[f] }

// Size is the length of the series once written.
func (s *Series) Size() int { return s.size(func(Family) bool { return true }) }

// PerInstanceSize is the length of the series' per-instance families once
// written.
func (s *Series) PerInstanceSize() int { return s.size(Family.PerInstance) }

func (s *Series) size(of func(Family) bool) int {
	n := 0
	var head []byte
	for f, lines := range s.lines {
		if !of(Family(f)) {
			continue
		}
		n += len(lines)
		if headless[f] && len(lines) > 0 {
			head = appendHead(head[:0], Family(f), s.prefix)
			n += len(head) * bytes.Count(lines, []byte{'\n'})
		}
	}
	return n
}

// HeadersSize is an upper bound on the bytes of the HELP and TYPE lines
// of every family, for sizing a buffer.
func HeadersSize() int {
	size := 0
	for _, f := range families {
		size += len(f.name)*2 + len(f.help) + len(f.typ) + 16
	}
	return size
}
