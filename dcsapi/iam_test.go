package dcsapi_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dcs-exporter/dcs_exporter/dcsapi"
	"github.com/dcs-exporter/dcs_exporter/dcsapi/dcsapitest"
)

const (
	devProject  = "dddd0000dddd0000dddd0000dddd0000"
	testProject = "eeee0000eeee0000eeee0000eeee0000"
)

// leastPrivilege is a fake whose IAM refuses to list projects by name, as
// it does for a key with only the DCS ReadOnlyAccess policy, with a region
// project and two of its sub-projects.
func leastPrivilege(t *testing.T, projects ...string) *env {
	e := newEnv(t)
	e.srv.SetIAMProjectListDenied(true)
	for i := 0; i+1 < len(projects); i += 2 {
		e.srv.AddProject(projects[i], projects[i+1])
	}
	return e
}

func (e *env) byRegion(name string) *dcsapi.Client {
	return e.client(func(o *dcsapi.Options) {
		o.ProjectID, o.Region, o.IAMEndpoint, o.Retry = "", name, e.srv.URL, noRetry()
	})
}

func TestProjectLookupFallsBackToAuthProjects(t *testing.T) {
	// The sub-projects come first, so that a prefix match would find one.
	e := leastPrivilege(t, region+"_dev", devProject, region+"_test", testProject, region, pid)
	e.srv.SetInstances(pid, mixedFleet)
	c := e.byRegion(region)
	for range 2 {
		if _, err := c.InstanceStatus(ctxFor(t, 5*time.Second), true); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := c.CachedProjectID(); got != pid {
		t.Errorf("project %q, want %q", got, pid)
	}
	if got, want := e.hookCalls(), []string{"iam_projects 403", "iam_auth_projects 200", "instance_status 200", "instance_status 200"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("calls %v, want %v (one lookup, then cached)", got, want)
	}
}

func TestProjectLookupIgnoresSubProjects(t *testing.T) {
	e := leastPrivilege(t, region+"_dev", devProject, "ap-southeast-1", testProject)
	_, err := e.byRegion(region).ProjectID(ctxFor(t, 5*time.Second))
	text := errText(t, err)
	var noProject *dcsapi.NoProjectError
	if !errors.As(err, &noProject) || !noProject.ListDenied || noProject.Region != region {
		t.Errorf("got %T %v, want a NoProjectError after the refused list", err, err)
	}
	for _, want := range []string{`"` + region + `"`, region + "_dev", "iam:projects:list"} {
		if !strings.Contains(text, want) {
			t.Errorf("error %q does not say %q", text, want)
		}
	}
	if strings.Contains(text, devProject) {
		t.Errorf("error %q offers the sub-project's id", text)
	}
}

func TestProjectLookupBothRefused(t *testing.T) {
	for _, fault := range []dcsapitest.Fault{
		{Status: 500},
		{Status: 403, Shape: dcsapitest.ShapeNested, Code: "403", Message: "You are not authorized"},
		{Kind: dcsapitest.FaultMalformedJSON},
	} {
		t.Run(fault.Kind.String()+" "+fault.Code, func(t *testing.T) {
			e := leastPrivilege(t, region, pid)
			e.srv.InjectFault("", dcsapitest.APIIAMAuthProjects, fault)
			_, err := e.byRegion(region).InstanceStatus(ctxFor(t, 5*time.Second), true)
			text := errText(t, err)
			var lookup *dcsapi.ProjectLookupError
			var apiErr *dcsapi.APIError
			if !errors.As(err, &lookup) || !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || apiErr.API != dcsapi.APIIAMProjects {
				t.Fatalf("got %T %v, want a ProjectLookupError holding IAM's 403", err, err)
			}
			if !dcsapi.IsAuthFailure(err) {
				t.Error("a refused lookup is not an auth failure, so the exporter would not back off")
			}
			for _, want := range []string{"iam:projects:list", dcsapi.APIIAMAuthProjects} {
				if !strings.Contains(text, want) {
					t.Errorf("error %q does not say %q", text, want)
				}
			}
			if n := e.srv.Requests(dcsapitest.APIInstanceStatus); n != 0 {
				t.Errorf("%d status requests without a project", n)
			}
		})
	}
}

// IAM's 403 is read from its nested shape, code, message and trace id.
func TestIAMRefusalIsRead(t *testing.T) {
	e := leastPrivilege(t)
	e.srv.InjectFault("", dcsapitest.APIIAMAuthProjects, dcsapitest.Fault{Status: 500})
	_, err := e.byRegion(region).ProjectID(ctxFor(t, 5*time.Second))
	errText(t, err)
	var apiErr *dcsapi.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("got %v", err)
	}
	if apiErr.Code != "403" || !strings.Contains(apiErr.Message, "iam:projects:list") || len(apiErr.RequestID) != 32 {
		t.Errorf("code %q, message %q, request id %q", apiErr.Code, apiErr.Message, apiErr.RequestID)
	}
	log := e.srv.RequestLog(dcsapitest.APIIAMProjects)
	if len(log) != 1 || log[0].Query.Get("name") != region {
		t.Errorf("IAM was asked %v", log)
	}
}

// Only a 403 leads to the second call; any other failure is the answer.
func TestProjectLookupOtherFailuresDoNotFallBack(t *testing.T) {
	e := newEnv(t)
	e.srv.AddProject(region, pid)
	e.srv.InjectFault("", dcsapitest.APIIAMProjects, dcsapitest.Fault{Status: 401})
	_, err := e.byRegion(region).ProjectID(ctxFor(t, 5*time.Second))
	var lookup *dcsapi.ProjectLookupError
	if errText(t, err); errors.As(err, &lookup) || !dcsapi.IsAuthFailure(err) {
		t.Errorf("got %v", err)
	}
	if n := e.srv.Requests(dcsapitest.APIIAMAuthProjects); n != 0 {
		t.Errorf("%d calls of /v3/auth/projects after a 401", n)
	}
}
