package collector_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/dcs-exporter/dcs_exporter/collector"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
	"github.com/dcs-exporter/dcs_exporter/diagnosis"
)

func TestTargetStatuses(t *testing.T) {
	wrongKey := strings.Replace(targetB, "project_id:", "credentials: {access_key: WRONGAK, secret_key: wrong}\n    project_id:", 1)
	e := newEnv(t, collector.Options{}, strings.Replace(targetA, "labels:", "instances: true\n    labels:", 1)+wrongKey)
	e.Srv.InjectFault(projectA, dcsapitest.APIListInstances, dcsapitest.Fault{Kind: dcsapitest.FaultStatus, Status: http.StatusForbidden, Code: "DCS.2003"})
	e.Scrape("")
	e.Exp.Target("prod").RefreshListing(context.Background())

	statuses := e.Exp.TargetStatuses()
	if len(statuses) != 2 || statuses[0].Config.Name != "prod" || statuses[1].Config.Name != "staging" {
		t.Fatalf("got %d statuses, want prod and staging in order", len(statuses))
	}
	prod, staging := statuses[0], statuses[1]

	// smallFleet: 7 instances, 4 running.
	if !prod.Attempted || !prod.Up || !prod.HasCounts || prod.Total != 7 || prod.NotRunning != 3 || prod.LastError != nil {
		t.Errorf("prod: %+v", prod)
	}
	if prod.ProjectID != projectA || !prod.LastSuccess.Equal(e.Clock.Now()) || !prod.NextAttempt.IsZero() {
		t.Errorf("prod: project %q, last success %v, next attempt %v", prod.ProjectID, prod.LastSuccess, prod.NextAttempt)
	}
	if l := prod.Listing; l == nil || !l.Attempted || l.Up || l.LastError == nil {
		t.Errorf("prod listing: %+v, want a failed listing with its error", l)
	}
	if len(prod.Requests) == 0 || prod.Requests[0] != (collector.RequestCount{API: "instance_status", Code: "200", N: 1}) {
		t.Errorf("prod requests: %v", prod.Requests)
	}

	if !staging.Attempted || staging.Up || staging.HasCounts || staging.LastError == nil || staging.Listing != nil {
		t.Errorf("staging: %+v", staging)
	}
	if staging.FailedStep != diagnosis.StepStatus {
		t.Errorf("staging failed at %q, want the status call (its project id is set)", staging.FailedStep)
	}
	// Refused credentials back off for 30 s (see TestAuthBackoffDoublesUpToTenMinutes).
	if want := e.Clock.Now().Add(collector.DefaultOptions().AuthBackoff); !staging.NextAttempt.Equal(want) {
		t.Errorf("staging: next attempt %v, want %v", staging.NextAttempt, want)
	}

	// The log gives the same hints as the diagnosis, for the query and the
	// listing.
	logs := e.Logs.String()
	for _, f := range []diagnosis.Finding{
		diagnosis.Diagnose(staging.FailedStep, staging.LastError, staging.Config),
		diagnosis.Diagnose(diagnosis.StepListing, prod.Listing.LastError, prod.Config),
	} {
		if f.Hint == "" || !strings.Contains(logs, "hint="+strconv.Quote(f.Hint)) {
			t.Errorf("the log lacks the hint %q:\n%s", f.Hint, logs)
		}
	}
}
