// This file holds the IAM behaviour beyond KeystoneListProjects: the
// refusal a least-privilege key gets, and KeystoneListAuthProjects.

package dcsapitest

import (
	"net/http"
	"strings"
)

// SetIAMProjectListDenied with true makes GET /v3/projects answer 403 in
// IAM's nested shape, as IAM does for a key without the iam:projects:list
// permission, which the DCS ReadOnlyAccess policy does not grant (IAM API
// reference, KeystoneListProjects, iam_06_0001). GET /v3/auth/projects,
// which needs no permission, keeps working.
func (s *Server) SetIAMProjectListDenied(denied bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.iamListDenied = denied
}

func (s *Server) iamListIsDenied() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.iamListDenied
}

// iamListDenied is IAM's refusal of KeystoneListProjects. The wording is
// ours; the shape, the numeric code and X-IAM-Trace-Id are IAM's.
func iamListDenied() *answer {
	return iamError(http.StatusForbidden, "403", "Policy doesn't allow iam:projects:list to be performed.")
}

// authProjectsAnswer serves KeystoneListAuthProjects, GET /v3/auth/projects
// (IAM API reference, iam_06_0003): every project the caller's key may use,
// sub-projects ("cn-north-4_dev", added with AddProject) included and
// pointing at their region's project as parent. It takes no name filter.
func (s *Server) authProjectsAnswer(sh shape) *answer {
	s.mu.Lock()
	byName := map[string]string{}
	for _, p := range s.iamProjects {
		if _, seen := byName[p.region]; !seen {
			byName[p.region] = p.id
		}
	}
	list := make([]iamProjectJSON, 0, len(s.iamProjects))
	for _, p := range s.iamProjects {
		parent := iamDomainID
		if region, _, sub := strings.Cut(p.region, "_"); sub && byName[region] != "" {
			parent = byName[region]
		}
		list = append(list, iamProjectJSON{
			ID: p.id, Name: p.region, DomainID: iamDomainID, ParentID: parent, Enabled: true,
			Links: iamLinks{Self: s.URL + "/v3/projects/" + p.id},
		})
	}
	s.mu.Unlock()
	doc := struct {
		Links    iamLinks `json:"links"`
		Projects any      `json:"projects"`
	}{Links: iamLinks{Self: s.URL + "/v3/auth/projects"}, Projects: list}
	if sh == shapeStrings {
		doc.Projects = map[string]int{"count": len(list)}
	}
	a := jsonAnswer(http.StatusOK, mustJSON(doc))
	a.header.Set("X-IAM-Trace-Id", a.header.Get("X-Request-Id"))
	return a
}
