// This file serves the backup records of the fake's instances: a daily
// automatic backup for each instance that can be backed up, with switches
// for failing backups, instances without backups and records of a test's
// own.

package dcsapitest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BackupRecord is a backup record of a test's own (AddBackupRecord).
type BackupRecord struct {
	ID          string // a random one when empty
	Type        string // "auto" or "manual"
	Status      string // waiting, backuping, succeed, failed, expired, deleted, or anything else
	ErrorCode   string
	Progress    string
	CreatedAt   time.Time
	ExecutionAt time.Time
	UpdatedAt   time.Time // zero: sent as ""
}

// backupState is one instance's backup switches.
type backupState struct {
	none      bool
	failCode  string
	failSince time.Time
	extra     []BackupRecord
}

func (b *backupState) clone() *backupState {
	c := *b
	c.extra = slices.Clone(b.extra)
	return &c
}

func (s *Server) backupStateLocked(projectID, instanceID string) *backupState {
	k := &s.projectLocked(projectID).fleet
	if k.backups == nil {
		k.backups = map[string]*backupState{}
	}
	b := k.backups[instanceID]
	if b == nil {
		b = &backupState{}
		k.backups[instanceID] = b
	}
	return b
}

// SetBackupsDisabled with true leaves an instance without backups, as one
// without a backup policy: its records are an empty list.
func (s *Server) SetBackupsDisabled(projectID, instanceID string, none bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backupStateLocked(projectID, instanceID).none = none
}

// FailBackups makes an instance's backups fail with code (dcs.08.0002 is a
// timeout) from the fake's present time on, and records a failed manual
// backup at that time, so that the newest finished backup is a failure at
// once; "" lets later backups succeed again.
func (s *Server) FailBackups(projectID, instanceID, code string) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.backupStateLocked(projectID, instanceID)
	b.failCode, b.failSince = code, now
	if code != "" {
		b.extra = append(b.extra, BackupRecord{
			Type: "manual", Status: "failed", ErrorCode: code, Progress: "0.00",
			CreatedAt: now.Add(-2 * time.Minute), ExecutionAt: now.Add(-2 * time.Minute).Add(5 * time.Second), UpdatedAt: now,
		})
	}
}

// AddBackupRecord adds a record to an instance's backups.
func (s *Server) AddBackupRecord(projectID, instanceID string, rec BackupRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.backupStateLocked(projectID, instanceID)
	if rec.ID == "" {
		rec.ID = randomUUID()
	}
	b.extra = append(b.extra, rec)
}

// BackupsScheduled reports whether the fake gives an instance a daily
// automatic backup: Redis instances other than single-node ones ("Only
// master/standby, Proxy Cluster, and Redis Cluster instances can be backed
// up and restored, while single-node instances cannot", OTC user guide
// "Backing Up and Restoring DCS Instances", Overview; Memcached is not in
// that list). Single-node instances are told by their spec code.
func BackupsScheduled(in Instance) bool {
	return strings.EqualFold(in.Engine, "Redis") && !strings.Contains(strings.ToLower(in.SpecCode), "single")
}

// backupRetention is how far back the fake's daily backups go: the longest
// retention of automatic backups (OTC user guide, Overview: "retained for
// up to seven days").
const backupRetention = 7 * 24 * time.Hour

// scheduledBackups are an instance's daily automatic backups of the last 7
// days at an hour and minute drawn from its ID, each taking a few minutes:
// waiting before it starts, backuping while it runs, then succeed, or failed
// with the switch's code once FailBackups is on.
func scheduledBackups(rec record, b *backupState, now time.Time) []BackupRecord {
	seed := seedOf(rec.ID, 0x6261636b)
	at := time.Duration(seed%24)*time.Hour + time.Duration(seed>>8%60)*time.Minute
	took := time.Duration(2+seed>>16%5) * time.Minute
	day := now.UTC().Truncate(24 * time.Hour)
	var out []BackupRecord
	for d := 0; d <= 7; d++ {
		created := day.Add(-time.Duration(d) * 24 * time.Hour).Add(at)
		if created.After(now) || now.Sub(created) > backupRetention {
			continue
		}
		r := BackupRecord{
			ID:        uuidFrom(seedOf(rec.ID, uint64(created.Unix())), seed),
			Type:      "auto",
			CreatedAt: created, ExecutionAt: created.Add(5 * time.Second),
		}
		done := r.ExecutionAt.Add(took)
		switch {
		case now.Before(r.ExecutionAt):
			r.Status, r.Progress, r.ExecutionAt = "waiting", "0.00", time.Time{}
		case now.Before(done):
			r.Status = "backuping"
			r.Progress = strconv.FormatFloat(100*now.Sub(r.ExecutionAt).Seconds()/took.Seconds(), 'f', 2, 64)
		case b != nil && b.failCode != "" && !created.Before(b.failSince):
			r.Status, r.ErrorCode, r.Progress, r.UpdatedAt = "failed", b.failCode, "0.00", done
		default:
			r.Status, r.Progress, r.UpdatedAt = "succeed", "100.00", done
		}
		out = append(out, r)
	}
	return out
}

// wireBackup is BackupRecordResponse (SDK model_backup_record_response.go,
// v0.1.207), its times in the documented example's form.
type wireBackup struct {
	BackupID         string  `json:"backup_id"`
	Period           *string `json:"period"`
	BackupName       string  `json:"backup_name"`
	InstanceID       string  `json:"instance_id"`
	Size             int64   `json:"size"`
	BackupType       string  `json:"backup_type"`
	CreatedAt        string  `json:"created_at"`
	UpdatedAt        string  `json:"updated_at"`
	Progress         string  `json:"progress"`
	ErrorCode        *string `json:"error_code"`
	Remark           *string `json:"remark"`
	Status           string  `json:"status"`
	IsSupportRestore string  `json:"is_support_restore"`
	BackupFormat     string  `json:"backup_format"`
	ExecutionAt      string  `json:"execution_at"`
}

func wireTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(createdLayout)
}

// backupsAnswer serves one page of an instance's backup records, newest
// first (ours). v2 pages with offset (from 0) and limit, v1.0 with start
// (from 1) and limit (OTC api-ref, both versions); both default to 10
// records. begin_time and end_time (v1.0: beginTime, endTime), UTC
// yyyyMMddHHmmss, bound the creation time. total_num is the number of
// records the query matches (the docs' "number of returned records" leaves
// it open). An unknown instance is 404 111404022 "This DCS instance does
// not exist" (api-ref "Error Codes").
func backupsAnswer(r *http.Request, rt route, recs []record, k fleetKnobs, now time.Time) *answer {
	i := slices.IndexFunc(recs, func(rec record) bool { return rec.ID == rt.instance })
	if i < 0 {
		return serviceError(http.StatusNotFound, "111404022", "This DCS instance does not exist.")
	}
	rec := recs[i]
	q := r.URL.Query()
	beginName, endName, startName, first := "begin_time", "end_time", "offset", 0
	if rt.v1 {
		beginName, endName, startName, first = "beginTime", "endTime", "start", 1
	}
	start, ok := intParam(q, startName, first)
	if !ok || start < first {
		return serviceError(http.StatusBadRequest, "DCS.4800", "Invalid offset in the request.")
	}
	limit, ok := intParam(q, "limit", 10)
	if !ok || limit < 1 || limit > 1000 {
		return serviceError(http.StatusBadRequest, "DCS.4801", "Invalid limit in the request.")
	}
	var bounds [2]time.Time
	for j, name := range []string{beginName, endName} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse("20060102150405", v)
			if err != nil {
				return serviceError(http.StatusBadRequest, "DCS.4802", "Invalid time in the request.") // ours
			}
			bounds[j] = t
		}
	}
	b := k.backups[rec.ID]
	var all []BackupRecord
	if b == nil || !b.none {
		if BackupsScheduled(rec.Instance) {
			all = scheduledBackups(rec, b, now)
		}
		if b != nil {
			all = append(all, b.extra...)
		}
	}
	matching := all[:0:0]
	for _, br := range all {
		if !bounds[0].IsZero() && br.CreatedAt.Before(bounds[0]) || !bounds[1].IsZero() && br.CreatedAt.After(bounds[1]) {
			continue
		}
		matching = append(matching, br)
	}
	slices.SortStableFunc(matching, func(a, b BackupRecord) int { return b.CreatedAt.Compare(a.CreatedAt) })
	from := start - first
	page := matching[min(from, len(matching)):min(from+limit, len(matching))]
	doc := struct {
		TotalNum int          `json:"total_num"`
		Records  []wireBackup `json:"backup_record_response"`
	}{TotalNum: len(matching), Records: make([]wireBackup, 0, len(page))}
	for _, br := range page {
		w := wireBackup{
			BackupID: br.ID, BackupName: "backup_" + br.CreatedAt.UTC().Format("20060102150405"), InstanceID: rec.ID,
			Size: rec.UsedMemoryMB << 19, BackupType: br.Type, CreatedAt: wireTime(br.CreatedAt),
			UpdatedAt: wireTime(br.UpdatedAt), Progress: br.Progress, Status: br.Status,
			IsSupportRestore: "TRUE", BackupFormat: "rdb", ExecutionAt: wireTime(br.ExecutionAt),
		}
		if br.ErrorCode != "" {
			code := br.ErrorCode
			w.ErrorCode = &code
		}
		if br.Status != "succeed" {
			w.IsSupportRestore, w.Size = "FALSE", 0
		}
		doc.Records = append(doc.Records, w)
	}
	return jsonAnswer(http.StatusOK, mustJSON(doc))
}
