// This file finds the project id of a region in IAM.

package dcsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dcs-exporter/dcs_exporter/internal/redact"
)

// ProjectID returns the configured project id, or looks it up in IAM by
// region name on first use and remembers it.
//
// The lookup is the SDK's (core/auth/basic_credentials.go,
// ProcessAuthParams): GET /v3/projects?name={region}, which needs the IAM
// permission iam:projects:list. The DCS ReadOnlyAccess policy does not
// grant it, and IAM refuses such keys with 403. Then GET /v3/auth/projects,
// which lists the projects the key may use and needs no permission (IAM API
// reference, KeystoneListAuthProjects), is asked instead, and the project
// named exactly after the region is taken: sub-projects such as
// cn-north-4_dev are other projects.
func (c *Client) ProjectID(ctx context.Context) (string, error) {
	if pid, ok := c.CachedProjectID(); ok {
		return pid, nil
	}
	c.projectMu.Lock()
	defer c.projectMu.Unlock()
	if pid, ok := c.CachedProjectID(); ok {
		return pid, nil
	}
	region := c.opts.Region
	var ids, names []string
	query := "name=" + string(appendEscaped(nil, region))
	listErr := c.call(ctx, APIIAMProjects, c.iam, "/v3/projects", query, "", func(body []byte) error {
		var derr error
		ids, _, derr = decodeProjects(APIIAMProjects, body, region)
		return derr
	})
	var apiErr *APIError
	denied := errors.As(listErr, &apiErr) && apiErr.StatusCode == http.StatusForbidden
	if denied {
		authErr := c.call(ctx, APIIAMAuthProjects, c.iam, "/v3/auth/projects", "", "", func(body []byte) error {
			var derr error
			ids, names, derr = decodeProjects(APIIAMAuthProjects, body, region)
			return derr
		})
		if authErr != nil {
			return "", &ProjectLookupError{Region: region, ListErr: listErr, AuthErr: authErr}
		}
	} else if listErr != nil {
		return "", listErr
	}
	if len(ids) == 1 {
		c.projectID.Store(&ids[0])
		return ids[0], nil
	}
	return "", &NoProjectError{Region: region, IDs: ids, Names: names, ListDenied: denied}
}

// NoProjectError says that IAM answered, but not with exactly one project
// named after the region.
type NoProjectError struct {
	Region string
	IDs    []string // the projects of that name, when there are several
	// ListDenied is set when listing projects by name was refused and the
	// projects the key may use were searched instead; Names are theirs.
	ListDenied bool
	Names      []string
}

func (e *NoProjectError) Error() string {
	switch {
	case len(e.IDs) > 1:
		return fmt.Sprintf("%s: %d projects named %q (%s)", APIIAMProjects, len(e.IDs), e.Region, redact.Text(strings.Join(e.IDs, ", "), 300))
	case e.ListDenied:
		return fmt.Sprintf("%s: no project named %q among those this key may use (%s), and listing projects by name was refused for want of the IAM permission %s",
			APIIAMAuthProjects, e.Region, redact.Text(strings.Join(e.Names, ", "), 300), PermissionListProjects)
	}
	return fmt.Sprintf("%s: no project named %q", APIIAMProjects, e.Region)
}

// PermissionListProjects is what GET /v3/projects needs (IAM API reference,
// KeystoneListProjects).
const PermissionListProjects = "iam:projects:list"

// ProjectLookupError says that neither way of looking up the project id
// worked: listing projects by name was refused (403), and listing the
// projects the key may use failed as well.
type ProjectLookupError struct {
	Region  string
	ListErr error // GET /v3/projects?name=..., refused
	AuthErr error // GET /v3/auth/projects
}

func (e *ProjectLookupError) Error() string {
	return fmt.Sprintf("looking up the project id of region %q: %v; then %v; the key lacks the IAM permission %s",
		e.Region, e.ListErr, e.AuthErr, PermissionListProjects)
}

// Unwrap gives both failures, so that errors.As finds the 403 and a caller
// backs off as after any refused call.
func (e *ProjectLookupError) Unwrap() []error { return []error{e.ListErr, e.AuthErr} }

// decodeProjects returns the ids of the projects named name in an IAM
// project list (KeystoneListProjects and KeystoneListAuthProjects answer
// alike), and the names of all of them. The SDK reads only id and name.
func decodeProjects(api string, body []byte, name string) (ids, names []string, err error) {
	var doc struct {
		Projects *[]struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, &DecodeError{API: api, Err: err}
	}
	if doc.Projects == nil {
		return nil, nil, &DecodeError{API: api, Field: "projects", Err: errors.New("missing")}
	}
	for _, p := range *doc.Projects {
		names = append(names, redact.Key(p.Name))
		if p.Name == name && p.ID != "" {
			ids = append(ids, p.ID)
		}
	}
	return ids, names, nil
}
