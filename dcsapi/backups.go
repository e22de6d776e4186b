// This file reads the backup records of one instance within a time range.

package dcsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// APIBackups names the backup records call in errors and request counts.
const APIBackups = "backup_records"

// The documented backup states and types (SDK services/dcs/v2/model/
// model_backup_record_response.go, v0.1.207).
const (
	BackupWaiting   = "waiting"
	BackupRunning   = "backuping" // the API's spelling
	BackupSucceeded = "succeed"   // the API's spelling
	BackupFailed    = "failed"
	BackupExpired   = "expired"
	BackupDeleted   = "deleted"

	BackupAuto   = "auto"
	BackupManual = "manual"
)

var (
	backupStates = []string{BackupWaiting, BackupRunning, BackupSucceeded, BackupFailed, BackupExpired, BackupDeleted}
	backupTypes  = []string{BackupAuto, BackupManual}
)

// BackupRecord is one backup of an instance. A time, status or type the API
// sent in an unusable form is left empty (the zero time, ""), and counted
// in the report's Dropped.
type BackupRecord struct {
	BackupID    string
	Type        string // BackupAuto, BackupManual or ""
	Status      string // one of the Backup* states, or ""
	CreatedAt   time.Time
	UpdatedAt   time.Time // when the backup completed (api-ref: "completed")
	ExecutionAt time.Time // when it started
	Progress    string    // e.g. "100.00", as sent
	ErrorCode   string    // e.g. dcs.08.0002 (a timeout); "" when none
}

// BackupsReport is the result of reading one instance's backup records.
type BackupsReport struct {
	Records []BackupRecord // in the API's order
	// Total is total_num of the last page read: the docs call it the
	// "number of returned records"; the Terraform provider reads it as the
	// records the query matches, as the walk does.
	Total int
	Pages int
	// Dropped counts the values left out, by JSON field name.
	Dropped FieldDrops
}

// BackupsOptions select the records and bound the walk.
type BackupsOptions struct {
	ListOptions
	// Begin and End bound the records by time, sent as UTC yyyyMMddHHmmss;
	// a zero time sends no bound.
	Begin, End time.Time
	// MaxPages bounds the pages read; 0 is DefaultBackupsMaxPages.
	MaxPages int
}

// The page size of a backup walk, and its bound. The API documents no
// largest page; 100 holds a week of daily backups many times over, so one
// page is the rule.
const (
	BackupsPageSize        = 100
	DefaultBackupsMaxPages = 10
)

// backupTimeLayout is the query's time format (SDK
// model_list_backup_records_request.go: "yyyyMMddHHmmss, e.g.
// 20170718235959", UTC).
const backupTimeLayout = "20060102150405"

// Backups returns the backup records of one instance:
//
//   - v2: GET /v2/{project_id}/instances/{instance_id}/backups?begin_time&end_time&limit&offset
//     (the SDK's ListBackupRecords), offset counting records from 0;
//   - v1: GET /v1.0/{project_id}/instances/{instance_id}/backups?beginTime&endTime&limit&start
//     (OTC api-ref outdated_apis_v1 "Querying DCS Instance Backup Records"),
//     start counting records from 1.
//
// Pages of BackupsPageSize are read until total_num records have come, or,
// without total_num, until a page is shorter. An empty body is no records:
// the docs list 204 "No DCS instance backup record is found".
func (c *Client) Backups(ctx context.Context, instanceID string, o BackupsOptions) (*BackupsReport, error) {
	if instanceID == "" || strings.ContainsAny(instanceID, "/?#%") {
		return nil, fmt.Errorf("%s: invalid instance id %q", APIBackups, instanceID)
	}
	maxPages := o.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultBackupsMaxPages
	}
	pid, known := c.CachedProjectID()
	if !known {
		err := o.run(ctx, func(ctx context.Context) (err error) {
			pid, err = c.ProjectID(ctx)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	v1 := c.opts.APIVersion == V1
	path := c.fleetPrefix() + pid + "/instances/" + instanceID + "/backups"
	r := &BackupsReport{Dropped: FieldDrops{}}
	for received := 0; ; {
		if r.Pages >= maxPages {
			return nil, fmt.Errorf("%s: more than %d pages of backup records", APIBackups, maxPages)
		}
		query := backupsQuery(v1, o.Begin, o.End, received)
		var page backupsPage
		err := o.run(ctx, func(ctx context.Context) error {
			return c.call(ctx, APIBackups, c.endpoint, path, query, pid, func(body []byte) error {
				page = backupsPage{}
				return decodeBackupsPage(body, &page)
			})
		})
		if err != nil {
			return nil, err
		}
		r.Pages++
		r.Total = page.total
		for field, n := range page.dropped {
			r.Dropped[field] += n
		}
		r.Records = append(r.Records, page.records...)
		received += page.entries
		// total_num counts the query's records (the Terraform provider's
		// data source huaweicloud_dcs_backups pages until it has that
		// many), so a short page before it is a server's smaller page, not
		// the end. Without one, a short page is the end.
		if page.entries == 0 || page.total > 0 && received >= page.total || page.total == 0 && page.entries < BackupsPageSize {
			break
		}
	}
	return r, nil
}

// backupsQuery builds the query in the order the parameters sort in, which
// is the order they are signed in.
func backupsQuery(v1 bool, begin, end time.Time, received int) string {
	var q []string
	if v1 {
		if !begin.IsZero() {
			q = append(q, "beginTime="+begin.UTC().Format(backupTimeLayout))
		}
		if !end.IsZero() {
			q = append(q, "endTime="+end.UTC().Format(backupTimeLayout))
		}
		q = append(q, "limit="+strconv.Itoa(BackupsPageSize), "start="+strconv.Itoa(received+1))
		return strings.Join(q, "&")
	}
	if !begin.IsZero() {
		q = append(q, "begin_time="+begin.UTC().Format(backupTimeLayout))
	}
	if !end.IsZero() {
		q = append(q, "end_time="+end.UTC().Format(backupTimeLayout))
	}
	q = append(q, "limit="+strconv.Itoa(BackupsPageSize), "offset="+strconv.Itoa(received))
	return strings.Join(q, "&")
}

type backupsPage struct {
	total   int
	entries int
	records []BackupRecord
	dropped FieldDrops
}

// DecodeBackups parses one page of backup records. An empty body is a page
// without records (the documented 204). A body that is not a JSON object,
// or backup_record_response that is not a list of objects, is a
// DecodeError; an unusable value costs only its field.
func DecodeBackups(body []byte) (records []BackupRecord, total int, dropped FieldDrops, err error) {
	var p backupsPage
	if err := decodeBackupsPage(body, &p); err != nil {
		return nil, 0, nil, err
	}
	return p.records, p.total, p.dropped, nil
}

type wireBackup struct {
	BackupID    textField   `json:"backup_id"`
	BackupType  textField   `json:"backup_type"`
	Status      textField   `json:"status"`
	CreatedAt   timeField   `json:"created_at"`
	UpdatedAt   timeField   `json:"updated_at"`
	ExecutionAt timeField   `json:"execution_at"`
	Progress    textField   `json:"progress"`
	ErrorCode   optionalStr `json:"error_code"`
}

// timeField is a backup time. The SDK models the times as plain strings
// (model_backup_record_response.go) and the docs show one form only,
// 2019-05-10T08:31:16.166Z (OTC api-ref "Listing DCS Instance Backup
// Records", v2 and v1.0). It is read leniently: RFC 3339 with or without
// fraction, the same without a zone or with a space for T (taken as UTC),
// and the query's own yyyyMMddHHmmss; anything else is dropped.
type timeField struct {
	v  time.Time
	st fieldState
}

var backupTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	backupTimeLayout,
}

func (f *timeField) UnmarshalJSON(b []byte) error {
	*f = timeField{}
	if string(b) == "null" {
		return nil
	}
	f.st = fieldBad
	if len(b) < 2 || b[0] != '"' {
		return nil
	}
	s := jsonString(b)
	if s == "" {
		f.st = fieldAbsent // an empty time is no time, as before a backup completes
		return nil
	}
	for _, layout := range backupTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			f.v, f.st = t.UTC(), fieldOK
			return nil
		}
	}
	return nil
}

func decodeBackupsPage(body []byte, p *backupsPage) error {
	p.dropped = FieldDrops{}
	if firstByte(body) == 0 {
		return nil // 204 No Content: no records
	}
	if firstByte(body) != '{' {
		return shapeError(APIBackups, body)
	}
	var doc struct {
		TotalNum *json.RawMessage `json:"total_num"`
		Records  *[]wireBackup    `json:"backup_record_response"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return decodeFailure(APIBackups, err)
	}
	if doc.TotalNum != nil {
		n, present, err := parseCount(*doc.TotalNum)
		switch {
		case err != nil || n > 1<<31:
			p.dropped.add("total_num")
		case present:
			p.total = int(n)
		}
	}
	if doc.Records == nil {
		// An answer without records: as the empty one, if it says there are
		// none; otherwise it is not of the documented shape.
		if p.total > 0 {
			return &DecodeError{API: APIBackups, Field: "backup_record_response", Err: errMissing}
		}
		return nil
	}
	p.entries = len(*doc.Records)
	p.records = make([]BackupRecord, 0, p.entries)
	for _, w := range *doc.Records {
		rec := BackupRecord{
			BackupID: w.BackupID.v, CreatedAt: w.CreatedAt.v, UpdatedAt: w.UpdatedAt.v,
			ExecutionAt: w.ExecutionAt.v, Progress: w.Progress.v, ErrorCode: w.ErrorCode.v,
		}
		for _, f := range [...]struct {
			st   fieldState
			name string
		}{
			{w.BackupID.st, "backup_id"}, {w.CreatedAt.st, "created_at"}, {w.UpdatedAt.st, "updated_at"},
			{w.ExecutionAt.st, "execution_at"}, {w.Progress.st, "progress"}, {w.ErrorCode.st, "error_code"},
		} {
			f.st.note(p.dropped, f.name)
		}
		rec.Status = documented(w.Status, backupStates, "status", p.dropped)
		rec.Type = documented(w.BackupType, backupTypes, "backup_type", p.dropped)
		p.records = append(p.records, rec)
	}
	return nil
}
