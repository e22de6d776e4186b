package dcsapi_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

// The documented 200 answers of the backup records: v2 (OTC api-ref
// apis_v2_recommended/backup_and_restoration/
// listing_dcs_instance_backup_records.rst), with period and error_code as
// {}, and v1.0 (outdated_apis_v1/backup_and_restoration_apis/
// querying_dcs_instance_backup_records.rst), with them null.
const (
	docBackupsV2 = `{
  "total_num" : 1,
  "backup_record_response" : [ {
    "period" : { },
    "backup_type" : "manual",
    "created_at" : "2019-05-10T08:31:16.166Z",
    "remark" : "001",
    "is_support_restore" : "TRUE",
    "backup_id" : "4631832a-14c6-45b0-a0b3-3abd8f591ad1",
    "backup_name" : "backup_20190510163116",
    "instance_id" : "5560df16-cebf-4473-95c4-d1b573c16e79",
    "size" : 880232,
    "updated_at" : "2019-05-10T08:32:30.546Z",
    "progress" : "100.00",
    "error_code" : { },
    "status" : "succeed",
    "execution_at" : "2019-05-11T08:31:16.166Z",
    "backup_format" : "aof"
  } ]
}`
	docBackupsV1 = `{
    "backup_record_response": [
        {
            "status": "succeed",
            "remark": "001",
            "period": null,
            "progress": "100.00",
            "size": 880232,
            "instance_id": "5560df16-cebf-4473-95c4-d1b573c16e79",
            "backup_id": "4631832a-14c6-45b0-a0b3-3abd8f591ad1",
            "created_at": "2019-05-10T08:31:16.166Z",
            "updated_at": "2019-05-10T08:32:30.546Z",
            "execution_at": "2019-05-10T08:31:21.461Z",
            "backup_type": "manual",
            "backup_format": "AOF",
            "backup_name": "backup_20190510163116",
            "error_code": null,
            "is_support_restore": "TRUE"
        }
    ],
    "total_num": 1
}`
)

func TestDecodeBackupsDocumentedExamples(t *testing.T) {
	for name, c := range map[string]struct {
		body      string
		execution time.Time
	}{
		"v2": {docBackupsV2, time.Date(2019, 5, 11, 8, 31, 16, 166e6, time.UTC)},
		"v1": {docBackupsV1, time.Date(2019, 5, 10, 8, 31, 21, 461e6, time.UTC)},
	} {
		records, total, dropped, err := dcsapi.DecodeBackups([]byte(c.body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := []dcsapi.BackupRecord{{
			BackupID: "4631832a-14c6-45b0-a0b3-3abd8f591ad1", Type: dcsapi.BackupManual, Status: dcsapi.BackupSucceeded,
			CreatedAt: time.Date(2019, 5, 10, 8, 31, 16, 166e6, time.UTC), UpdatedAt: time.Date(2019, 5, 10, 8, 32, 30, 546e6, time.UTC),
			ExecutionAt: c.execution, Progress: "100.00",
		}}
		if total != 1 || !reflect.DeepEqual(records, want) || dropped.Total() != 0 {
			t.Errorf("%s: total %d, dropped %v\ngot %+v\nwant %+v", name, total, dropped, records, want)
		}
	}
}

func TestDecodeBackupsTimes(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	for raw, want := range map[string]time.Time{
		`"2019-05-10T08:31:16.166Z"`:      utc("2019-05-10T08:31:16.166Z"),
		`"2019-05-10T08:31:16Z"`:          utc("2019-05-10T08:31:16Z"),
		`"2019-05-10T16:31:16.1+08:00"`:   utc("2019-05-10T08:31:16.1Z"),
		`"2019-05-10T08:31:16"`:           utc("2019-05-10T08:31:16Z"),
		`"2019-05-10 08:31:16"`:           utc("2019-05-10T08:31:16Z"),
		`"2019-05-10 08:31:16.5+00:00"`:   utc("2019-05-10T08:31:16.5Z"),
		`"20190510083116"`:                utc("2019-05-10T08:31:16Z"),
		`"yesterday"`:                     {},
		`"2019-13-10T08:31:16Z"`:          {},
		`"10/05/2019 08:31"`:              {},
		`1557477076`:                      {},
		`{}`:                              {},
		`""`:                              {},
		`null`:                            {},
		`"2019-05-10T08:31:16.166Z junk"`: {},
	} {
		body := `{"total_num":1,"backup_record_response":[{"backup_id":"b","status":"failed","created_at":` + raw + `,"updated_at":"2019-05-10T08:32:30.546Z"}]}`
		records, _, dropped, err := dcsapi.DecodeBackups([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		rec := records[0]
		if !rec.CreatedAt.Equal(want) || rec.UpdatedAt.IsZero() || rec.Status != dcsapi.BackupFailed {
			t.Errorf("created_at %s: got %v (updated %v)", raw, rec.CreatedAt, rec.UpdatedAt)
		}
		// An empty or null time is no time yet; anything else unreadable is
		// counted.
		wantDropped := 0
		if want.IsZero() && raw != `""` && raw != `null` {
			wantDropped = 1
		}
		if dropped["created_at"] != wantDropped || dropped.Total() != wantDropped {
			t.Errorf("created_at %s: dropped %v", raw, dropped)
		}
	}
}

func TestDecodeBackupsFieldByField(t *testing.T) {
	body := `{"total_num":"3","backup_record_response":[
		{"backup_id":"a","status":"exploded","backup_type":"weekly","error_code":"dcs.08.0002","progress":5},
		{"backup_id":7,"status":"FAILED","backup_type":"auto","error_code":{"code":"x"}},
		{"status":"backuping","error_code":""}
	]}`
	records, total, dropped, err := dcsapi.DecodeBackups([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []dcsapi.BackupRecord{
		{BackupID: "a", ErrorCode: "dcs.08.0002"},
		{Type: dcsapi.BackupAuto, Status: dcsapi.BackupFailed},
		{Status: dcsapi.BackupRunning},
	}
	if total != 0 || !reflect.DeepEqual(records, want) {
		t.Errorf("total %d\ngot %+v\nwant %+v", total, records, want)
	}
	if wantDrops := (dcsapi.FieldDrops{"total_num": 1, "status": 1, "backup_type": 1, "progress": 1, "backup_id": 1, "error_code": 1}); !reflect.DeepEqual(dropped, wantDrops) {
		t.Errorf("dropped %v, want %v", dropped, wantDrops)
	}
}

func TestDecodeBackupsShapes(t *testing.T) {
	for _, body := range []string{"", " \n", `{"total_num":0}`, `{"total_num":0,"backup_record_response":[]}`, `{"backup_record_response":null}`} {
		records, _, _, err := dcsapi.DecodeBackups([]byte(body))
		if err != nil || len(records) != 0 {
			t.Errorf("%q: %v, %v; want no records", body, records, err)
		}
	}
	for body, field := range map[string]string{
		"[]":                                 "",
		`"x"`:                                "",
		`{"total_num":2}`:                    "backup_record_response",
		`{"backup_record_response":{}}`:      "backup_record_response",
		`{"backup_record_response":[1]}`:     "backup_record_response",
		`{"backup_record_response":[]} {}`:   "",
		`{"backup_record_response":[{"a":1}`: "",
	} {
		_, _, _, err := dcsapi.DecodeBackups([]byte(body))
		var de *dcsapi.DecodeError
		if !errors.As(err, &de) || de.API != dcsapi.APIBackups || de.Field != field {
			t.Errorf("%q: got %v, want a DecodeError of field %q", body, err, field)
		}
	}
}

// backupFleet has a master/standby Redis, a single-node Redis, a Memcached
// instance and a Redis instance without a backup policy.
var backupFleet = []dcsapitest.Instance{
	{ID: "ha", Engine: "Redis", EngineVersion: "5.0", Status: "RUNNING", SpecCode: "redis.ha.xu1.large.r2.2", UsedMemoryMB: 100},
	{ID: "single", Engine: "Redis", EngineVersion: "5.0", Status: "RUNNING", SpecCode: "redis.single.xu1.large.2"},
	{ID: "memcached", Engine: "Memcached", EngineVersion: "1.5", Status: "RUNNING", SpecCode: "dcs.memcached.master_standby.2"},
	{ID: "nopolicy", Engine: "Redis", EngineVersion: "6.0", Status: "RUNNING", SpecCode: "redis.ha.xu1.large.r2.4"},
}

func TestBackupsFromTheFake(t *testing.T) {
	for _, v := range []dcsapi.APIVersion{dcsapi.V2, dcsapi.V1} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t)
			e.srv.SetInstances(pid, backupFleet)
			e.srv.SetBackupsDisabled(pid, "nopolicy", true)
			now := time.Date(2026, 5, 4, 23, 59, 0, 0, time.UTC)
			e.srv.SetClock(func() time.Time { return now })
			c := e.client(func(o *dcsapi.Options) { o.APIVersion = v; o.Now = func() time.Time { return now } })
			opts := dcsapi.BackupsOptions{Begin: now.Add(-7 * 24 * time.Hour), End: now}
			r, err := c.Backups(ctxFor(t, 10*time.Second), "ha", opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Records) != 7 || r.Total != 7 || r.Pages != 1 || r.Dropped.Total() != 0 {
				t.Fatalf("%d records of %d in %d pages, dropped %v", len(r.Records), r.Total, r.Pages, r.Dropped)
			}
			for i, rec := range r.Records {
				if rec.Status != dcsapi.BackupSucceeded || rec.Type != dcsapi.BackupAuto || rec.UpdatedAt.Before(rec.CreatedAt) ||
					rec.CreatedAt.Before(opts.Begin) || rec.CreatedAt.After(now) || i > 0 && !rec.CreatedAt.Before(r.Records[i-1].CreatedAt) {
					t.Errorf("record %d: %+v", i, rec)
				}
			}
			req := e.srv.RequestLog(dcsapitest.APIBackups)[0]
			wantQuery := map[dcsapi.APIVersion]string{
				dcsapi.V2: "begin_time=20260427235900&end_time=20260504235900&limit=100&offset=0",
				dcsapi.V1: "beginTime=20260427235900&endTime=20260504235900&limit=100&start=1",
			}[v]
			prefix := map[dcsapi.APIVersion]string{dcsapi.V2: "/v2/", dcsapi.V1: "/v1.0/"}[v]
			if req.Path != prefix+pid+"/instances/ha/backups" || req.Query.Encode() != wantQuery {
				t.Errorf("request %s?%s, want %s", req.Path, req.Query.Encode(), wantQuery)
			}
			for _, id := range []string{"single", "memcached", "nopolicy"} {
				r, err := c.Backups(ctxFor(t, 10*time.Second), id, opts)
				if err != nil || len(r.Records) != 0 {
					t.Errorf("%s: %v, %+v; want no records", id, err, r)
				}
			}
			_, err = c.Backups(ctxFor(t, 10*time.Second), "gone", opts)
			var ae *dcsapi.APIError
			if !errors.As(err, &ae) || ae.StatusCode != 404 || ae.Code != "111404022" {
				t.Errorf("an unknown instance: %v", err)
			}
			if _, err := c.Backups(ctxFor(t, 10*time.Second), "../quota", opts); err == nil {
				t.Error("an instance id with a slash must be refused before any call")
			}
		})
	}
}

func TestFakeBackupsFailAndRun(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, backupFleet)
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	e.srv.SetClock(func() time.Time { return now })
	c := e.client(func(o *dcsapi.Options) { o.Now = func() time.Time { return now } })
	newest := func() []dcsapi.BackupRecord {
		t.Helper()
		r, err := c.Backups(ctxFor(t, 10*time.Second), "ha", dcsapi.BackupsOptions{Begin: now.Add(-7 * 24 * time.Hour), End: now})
		if err != nil {
			t.Fatal(err)
		}
		return r.Records
	}
	e.srv.FailBackups(pid, "ha", "dcs.08.0002")
	recs := newest()
	if recs[0].Status != dcsapi.BackupFailed || recs[0].ErrorCode != "dcs.08.0002" || recs[1].Status != dcsapi.BackupSucceeded {
		t.Fatalf("after FailBackups: %+v", recs[:2])
	}
	// A day later the scheduled backup has run, and failed too; on the way
	// it waited and ran.
	var seen []string
	for range 24 * 12 {
		now = now.Add(5 * time.Minute)
		if s := newest()[0].Status; len(seen) == 0 || seen[len(seen)-1] != s {
			seen = append(seen, s)
		}
	}
	got := strings.Join(seen, " ")
	if !strings.Contains(got, "waiting backuping failed") && !strings.Contains(got, "backuping failed") {
		t.Errorf("states of the newest backup over a day: %s", got)
	}
	e.srv.FailBackups(pid, "ha", "")
	now = now.Add(24 * time.Hour)
	if recs := newest(); recs[0].Status != dcsapi.BackupSucceeded {
		t.Errorf("after the failure ended: %+v", recs[0])
	}
	e.srv.AddBackupRecord(pid, "ha", dcsapitest.BackupRecord{Type: "manual", Status: "backuping", Progress: "12.50", CreatedAt: now.Add(-time.Minute)})
	if recs := newest(); recs[0].Status != dcsapi.BackupRunning || recs[0].Progress != "12.50" || recs[0].Type != dcsapi.BackupManual {
		t.Errorf("an added record: %+v", recs[0])
	}
}

func TestBackupsPages(t *testing.T) {
	e := newEnv(t)
	e.srv.SetInstances(pid, backupFleet)
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	e.srv.SetClock(func() time.Time { return now })
	for i := range 230 {
		e.srv.AddBackupRecord(pid, "nopolicy", dcsapitest.BackupRecord{Type: "manual", Status: "succeed", CreatedAt: now.Add(-time.Duration(i+1) * time.Minute)})
	}
	for _, v := range []dcsapi.APIVersion{dcsapi.V2, dcsapi.V1} {
		e.srv.ResetCounts()
		c := e.client(func(o *dcsapi.Options) { o.APIVersion = v; o.Now = func() time.Time { return now } })
		r, err := c.Backups(ctxFor(t, 10*time.Second), "nopolicy", dcsapi.BackupsOptions{})
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if len(r.Records) != 237 || r.Pages != 3 {
			t.Fatalf("%s: %d records in %d pages", v, len(r.Records), r.Pages)
		}
		seen := map[string]bool{}
		for _, rec := range r.Records {
			seen[rec.BackupID] = true
		}
		if len(seen) != 237 {
			t.Errorf("%s: %d distinct records, want 237 (230 added, 7 scheduled)", v, len(seen))
		}
		var starts []string
		for _, ri := range e.srv.RequestLog(dcsapitest.APIBackups) {
			starts = append(starts, ri.Query.Get("offset")+ri.Query.Get("start"))
		}
		want := map[dcsapi.APIVersion][]string{dcsapi.V2: {"0", "100", "200"}, dcsapi.V1: {"1", "101", "201"}}[v]
		if !reflect.DeepEqual(starts, want) {
			t.Errorf("%s: pages start at %v, want %v", v, starts, want)
		}
		if _, err := c.Backups(ctxFor(t, 10*time.Second), "nopolicy", dcsapi.BackupsOptions{MaxPages: 2}); err == nil {
			t.Errorf("%s: MaxPages 2 must fail a walk of 3 pages", v)
		}
	}
	// The documented 204 has no body: no records.
	e.srv.SetAnswerOverride(pid, dcsapitest.APIBackups, []byte{})
	r, err := e.client(func(o *dcsapi.Options) { o.Now = func() time.Time { return now } }).Backups(ctxFor(t, 10*time.Second), "ha", dcsapi.BackupsOptions{})
	if err != nil || len(r.Records) != 0 {
		t.Errorf("an empty answer: %v, %+v", err, r)
	}
}
