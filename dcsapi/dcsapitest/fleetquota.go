// This file serves the tenant quota: the instances and memory a project may
// have, and how much of each it uses.

package dcsapitest

import "math"

// QuotaLimits are the limits the quota API serves, for a project close to
// its quota; 0 keeps the derived limit.
type QuotaLimits struct {
	Instances int64
	MemoryGB  int64
}

// SetQuotaLimits sets the project's quotas; nil goes back to the derived
// ones (twice the use, and at least 50 instances and 800 GB, as in the
// documented example's 10 and 800).
func (s *Server) SetQuotaLimits(projectID string, q *QuotaLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q != nil {
		c := *q
		q = &c
	}
	s.projectLocked(projectID).fleet.quota = q
}

// QuotaUse is what the quota API counts as used: the instances other than
// those that failed to be created, and their capacity in whole GB.
func QuotaUse(fleet []Instance) (instances, memoryGB int64) {
	gb := 0.0
	for _, in := range fleet {
		if in.Status == "CREATEFAILED" {
			continue
		}
		instances++
		gb += in.CapacityGB
	}
	return instances, int64(math.Ceil(gb))
}

// quotaBody is ShowQuotaOfTenantResponse (SDK model_show_quota_of_tenant_
// response.go, model_resources.go): an instance and a ram resource; v1.0
// adds resource_user, as its documented example does. The instance unit is
// null, as in the v1.0 example (the v2 example's {} would not decode into
// the SDK's string).
func quotaBody(recs []record, k fleetKnobs, v1 bool) []byte {
	fleet := make([]Instance, len(recs))
	for i, rec := range recs {
		fleet[i] = rec.Instance
	}
	usedInstances, usedGB := QuotaUse(fleet)
	limitInstances, limitGB := max(50, 2*usedInstances), max(800, 2*usedGB)
	if k.quota != nil && k.quota.Instances > 0 {
		limitInstances = k.quota.Instances
	}
	if k.quota != nil && k.quota.MemoryGB > 0 {
		limitGB = k.quota.MemoryGB
	}
	type resource struct {
		Unit  *string `json:"unit"`
		Min   int64   `json:"min"`
		Max   int64   `json:"max"`
		Quota int64   `json:"quota"`
		Used  int64   `json:"used"`
		Type  string  `json:"type"`
	}
	gb := "GB"
	doc := struct {
		Quotas struct {
			Resources    []resource         `json:"resources"`
			ResourceUser *map[string]string `json:"resource_user,omitempty"`
		} `json:"quotas"`
	}{}
	doc.Quotas.Resources = []resource{
		{Min: 1, Max: limitInstances, Quota: limitInstances, Used: usedInstances, Type: "instance"},
		{Unit: &gb, Min: 1, Max: limitGB, Quota: limitGB, Used: usedGB, Type: "ram"},
	}
	if v1 {
		doc.Quotas.ResourceUser = &map[string]string{"tenant_id": "836152f9838a44089f40f3cf6fd432bf", "tenant_name": "dcs-demo"}
	}
	return mustJSON(doc)
}
