// This file reads the project's quotas: how many instances and how much
// memory it may have, and how much of each it uses.

package dcsapi

import (
	"context"
	"encoding/json"
	"strings"
)

// APIQuota names the quota call in errors and request counts.
const APIQuota = "quota"

// The resource types of the quota answer.
const (
	QuotaInstances = "instance" // counted in instances, unit ""
	QuotaMemory    = "ram"      // counted in GB
)

// QuotaResource is one entry of the quota answer (SDK services/dcs/v2/
// model/model_resources.go, v0.1.207; OTC api-ref "Querying the Tenant
// Quotas"). Quota is the limit; Min and Max only bound what a quota
// increase may ask for. A value that is not a non-negative integer is left
// out, and Present says which came.
type QuotaResource struct {
	Type    string // QuotaInstances or QuotaMemory; "instances" is read as the first, as the tables spell it
	Unit    string // "GB" for ram; "" for instances, which the examples send as {} (v2) or null (v1.0)
	Quota   int64
	Used    int64
	Min     int64
	Max     int64
	Present QuotaFields
}

// QuotaFields is a set of the numbers of a QuotaResource.
type QuotaFields uint8

// The numbers of a QuotaResource.
const (
	QuotaLimit QuotaFields = 1 << iota
	QuotaUsed
	QuotaMin
	QuotaMax
)

// Has reports whether every number of f came with a usable value.
func (q *QuotaResource) Has(f QuotaFields) bool { return q.Present&f == f }

// QuotaReport is one decoded quota answer.
type QuotaReport struct {
	Resources []QuotaResource // in the API's order
	// Dropped counts the values left out, by JSON field name; an entry
	// without a usable type is skipped and counted under "type".
	Dropped FieldDrops
}

// Resource returns the first entry of the given type.
func (r *QuotaReport) Resource(typ string) (QuotaResource, bool) {
	for _, q := range r.Resources {
		if q.Type == typ {
			return q, true
		}
	}
	return QuotaResource{}, false
}

// Quota returns the project's quotas: GET /v2/{project_id}/quota (the SDK's
// ShowQuotaOfTenant), or GET /v1.0/{project_id}/quota on a v1 client (OTC
// api-ref outdated_apis_v1 "Querying the Quota of a Tenant",
// dcs-api-0312036), which has the same resources and adds resource_user.
func (c *Client) Quota(ctx context.Context) (*QuotaReport, error) {
	pid, err := c.ProjectID(ctx)
	if err != nil {
		return nil, err
	}
	var report *QuotaReport
	err = c.call(ctx, APIQuota, c.endpoint, c.fleetPrefix()+pid+"/quota", "", pid, func(body []byte) error {
		var derr error
		report, derr = DecodeQuota(body)
		return derr
	})
	return report, err
}

type wireQuotaResource struct {
	Type  textField   `json:"type"`
	Unit  optionalStr `json:"unit"` // {} in the v2 example, null in the v1.0 one
	Quota countValue  `json:"quota"`
	Used  countValue  `json:"used"`
	Min   countValue  `json:"min"`
	Max   countValue  `json:"max"`
}

// DecodeQuota parses a quota answer, {"quotas": {"resources": [...]}}. A
// body that is not a JSON object, or quotas.resources missing or not a list
// of objects, is a DecodeError; a value that cannot be used costs only
// itself.
func DecodeQuota(body []byte) (*QuotaReport, error) {
	if firstByte(body) != '{' {
		return nil, shapeError(APIQuota, body)
	}
	var doc struct {
		Quotas *struct {
			Resources *[]wireQuotaResource `json:"resources"`
		} `json:"quotas"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, decodeFailure(APIQuota, err)
	}
	if doc.Quotas == nil {
		return nil, &DecodeError{API: APIQuota, Field: "quotas", Err: errMissing}
	}
	if doc.Quotas.Resources == nil {
		return nil, &DecodeError{API: APIQuota, Field: "quotas.resources", Err: errMissing}
	}
	r := &QuotaReport{Dropped: FieldDrops{}}
	for _, w := range *doc.Quotas.Resources {
		typ := strings.ToLower(w.Type.v)
		if typ == "instances" {
			typ = QuotaInstances
		}
		if w.Type.st != fieldOK || typ == "" {
			r.Dropped.add("type")
			continue
		}
		q := QuotaResource{Type: typ, Unit: w.Unit.v}
		w.Unit.st.note(r.Dropped, "unit")
		for _, f := range [...]struct {
			v    countValue
			dst  *int64
			bit  QuotaFields
			name string
		}{
			{w.Quota, &q.Quota, QuotaLimit, "quota"},
			{w.Used, &q.Used, QuotaUsed, "used"},
			{w.Min, &q.Min, QuotaMin, "min"},
			{w.Max, &q.Max, QuotaMax, "max"},
		} {
			if f.v.st == fieldOK {
				*f.dst, q.Present = f.v.v, q.Present|f.bit
			}
			f.v.st.note(r.Dropped, f.name)
		}
		r.Resources = append(r.Resources, q)
	}
	return r, nil
}
