package exposition

// This file renders the backups source's part: whether its last call
// succeeded, and per instance its newest successful and failed backups and
// whether one is under way, rendered again only when one of them changes.

import (
	"slices"
	"strings"
	"time"
)

// Backups is the backups source's part of a snapshot.
type Backups struct {
	On        bool // the target reads backup records (backups: true with instances: true)
	Lines     BackupLines
	Attempted bool // a call has ended
	Up        bool // the last call succeeded
}

// backupFamilies are the backups source's per-instance families, in the
// order of BackupLines.
var backupFamilies = [...]Family{FamBackupLastSuccess, FamBackupLastFailure, FamBackupInProgress}

// BackupLines are the per-instance backup series, one slice per family of
// backupFamilies, each line without its metric name and the target's
// labels, like InstanceLines.
type BackupLines [len(backupFamilies)][]byte

// InstanceBackups is what the exporter keeps of one instance's backup
// records.
type InstanceBackups struct {
	InstanceID  string
	LastSuccess time.Time // completion of the newest successful backup; zero: none
	LastFailure time.Time // the newest failed backup; zero: none
	FailureCode string    // its error code; "" when the API gave none
	InProgress  bool      // a backup is waiting or running
}

// renderBackups writes the source's health.
func renderBackups(out *renderBuffers, s *Snapshot) {
	b := &s.Backups
	if b.On && b.Attempted {
		out[FamBackupsUp] = appendSample(out[FamBackupsUp], FamBackupsUp, s.Labels, boolValue(b.Up))
	}
}

// RenderBackups renders the per-instance backup families, instances sorted
// by id.
func RenderBackups(list []InstanceBackups) BackupLines {
	list = slices.SortedFunc(slices.Values(list), func(a, b InstanceBackups) int { return strings.Compare(a.InstanceID, b.InstanceID) })
	var bufs BackupLines
	for i := range list {
		in := &list[i]
		id := labelPair{"instance_id", in.InstanceID}
		if !in.LastSuccess.IsZero() {
			bufs[0] = appendTail(bufs[0], float64(in.LastSuccess.UnixMilli())/1000, id)
		}
		if !in.LastFailure.IsZero() {
			bufs[1] = appendTail(bufs[1], float64(in.LastFailure.UnixMilli())/1000, id, labelPair{"error_code", orUnknown(in.FailureCode)})
		}
		bufs[2] = appendTail(bufs[2], boolValue(in.InProgress), id)
	}
	for i := range bufs {
		bufs[i] = slices.Clip(bufs[i])
	}
	return bufs
}
