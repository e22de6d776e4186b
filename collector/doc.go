// Package collector keeps one Target per configured project and brings
// its data up to date: the status query on scrape or in the background,
// with coalescing, late answers and backoff (exporter.go, target.go,
// scrape.go, backoff.go), and the other sources on their own schedules. It
// copies each target's state into a snapshot under the target's lock
// (snapshot.go); package exposition renders it, and package serving
// serves it over HTTP.
//
// # Sources
//
// Each API the collector reads is a source, in a file of its own that
// holds its call, its schedule, what it keeps of the answer and its part
// of the snapshot and of the status page's view: source_status.go,
// source_listing.go, source_nodes.go, source_backups.go,
// source_statistics.go, source_quota.go. A source implements the source
// interface (source.go):
// snapshot copies its part into the exposition.Snapshot, expire frees data
// past the staleness limit, describe fills its part of TargetStatus; the
// target calls all three with its lock held.
//
// A source with a schedule of its own (the listing and the nodes, every
// --dcs.instances-refresh-interval; the backups, whose refresh is a tick of
// a pacer that starts the calls that are due and returns; the quota, with
// the listing's interval or every 10 minutes, which a schedule's per-target
// interval says) is a scheduledSource: on says whether the target's config
// turns it on, started whether it has run, and refresh makes its calls,
// each through Exporter.gate so that one API slot stays free for the status
// queries. A schedule may bound the targets it refreshes at once, and may
// tell the assembled answer of a round's changes once, at its end (the
// quota does both, since every target reads it). Sources read with every
// status query (the status counts, the statistics) are called from
// Target.query, and keep their own result, so that one failing does not
// take the target down. What is derived from a source's answer once per
// answer (the per-instance lines, say) is built in its refresh, outside the
// lock, and kept beside it.
// The listing also feeds /sd: the Exporter owns the discovery.Handler
// (Exporter.Discovery), whose inputs are Exporter.DiscoveryTargets, and each
// successful listing has it build that target's groups right away
// (Prepare), outside the target's lock, so that no request builds them.
// The nodes source feeds /sd?level=node the same way: each successful walk
// is kept as discovery reads it (nodesSource.discovered) and followed by
// Prepare.
//
// Adding a source touches no other source's file:
//   - source_<name>.go in this package, with its type, its result and the
//     three (or six) methods;
//   - its field on Target and its entry in Target.initSources, and, when it
//     is scheduled, its entry in newSchedules;
//   - its part of exposition.Snapshot, its families in exposition's table
//     and its rendering in a file of exposition's own.
package collector
