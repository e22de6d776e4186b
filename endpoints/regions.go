// Package endpoints holds the cloud's well-known endpoints: the DCS and IAM
// endpoints of each Huawei Cloud region, so that a target needs only its
// region, and the ECS metadata service. It imports nothing of the project,
// so that config and dcsapi can both use it.
package endpoints

// Metadata is the ECS metadata service, which hands out the temporary
// credentials of the agency bound to an ECS or CCE node.
const Metadata = "http://169.254.169.254"

// globalIAMEndpoint is where the official SDK sends the project lookup of a
// region that has no regional IAM endpoint (core/auth/internal/iam_helper.go,
// DefaultIamEndpoint).
const globalIAMEndpoint = "https://iam.myhuaweicloud.com"

// regionEndpoints maps a region to its DCS and IAM endpoints, copied from the
// official Go SDK, huaweicloud-sdk-go-v3 v0.1.207 (published 2026-07-16, read
// 2026-11-29): services/dcs/v2/region/region.go (30 regions) and
// services/iam/v3/region/region.go (28 regions; the same map as
// core/auth/internal/iam_endpoint.go plus eu-west-101). An empty IAM endpoint
// marks a region that only the DCS table lists; the SDK uses the global IAM
// endpoint for it.
var regionEndpoints = map[string][2]string{
	"af-south-1":       {"https://dcs.af-south-1.myhuaweicloud.com", "https://iam.af-south-1.myhuaweicloud.com"},
	"ae-ad-1":          {"https://dcs.ae-ad-1.myhuaweicloud.com", "https://iam.ae-ad-1.myhuaweicloud.com"},
	"ap-southeast-1":   {"https://dcs.ap-southeast-1.myhuaweicloud.com", "https://iam.ap-southeast-1.myhuaweicloud.com"},
	"ap-southeast-2":   {"https://dcs.ap-southeast-2.myhuaweicloud.com", "https://iam.ap-southeast-2.myhuaweicloud.com"},
	"ap-southeast-3":   {"https://dcs.ap-southeast-3.myhuaweicloud.com", "https://iam.ap-southeast-3.myhuaweicloud.com"},
	"ap-southeast-4":   {"https://dcs.ap-southeast-4.myhuaweicloud.com", "https://iam.ap-southeast-4.myhuaweicloud.com"},
	"ap-southeast-5":   {"https://dcs.ap-southeast-5.myhuaweicloud.com", ""},
	"cn-east-2":        {"https://dcs.cn-east-2.myhuaweicloud.com", "https://iam.cn-east-2.myhuaweicloud.com"},
	"cn-east-3":        {"https://dcs.cn-east-3.myhuaweicloud.com", "https://iam.cn-east-3.myhuaweicloud.com"},
	"cn-east-4":        {"https://dcs.cn-east-4.myhuaweicloud.com", "https://iam.cn-east-4.myhuaweicloud.com"},
	"cn-east-5":        {"https://dcs.cn-east-5.myhuaweicloud.com", "https://iam.cn-east-5.myhuaweicloud.com"},
	"cn-north-1":       {"https://dcs.cn-north-1.myhuaweicloud.com", "https://iam.cn-north-1.myhuaweicloud.com"},
	"cn-north-2":       {"https://dcs.cn-north-2.myhuaweicloud.com", "https://iam.cn-north-2.myhuaweicloud.com"},
	"cn-north-4":       {"https://dcs.cn-north-4.myhuaweicloud.com", "https://iam.cn-north-4.myhuaweicloud.com"},
	"cn-north-9":       {"https://dcs.cn-north-9.myhuaweicloud.com", "https://iam.cn-north-9.myhuaweicloud.com"},
	"cn-north-12":      {"https://dcs.cn-north-12.myhuaweicloud.com", "https://iam.cn-north-12.myhuaweicloud.com"},
	"cn-south-1":       {"https://dcs.cn-south-1.myhuaweicloud.com", "https://iam.cn-south-1.myhuaweicloud.com"},
	"cn-south-2":       {"https://dcs.cn-south-2.myhuaweicloud.com", "https://iam.cn-south-2.myhuaweicloud.com"},
	"cn-southwest-2":   {"https://dcs.cn-southwest-2.myhuaweicloud.com", "https://iam.cn-southwest-2.myhuaweicloud.com"},
	"eu-west-0":        {"https://dcs.eu-west-0.myhuaweicloud.com", "https://iam.eu-west-0.myhuaweicloud.com"},
	"eu-west-101":      {"https://dcs.eu-west-101.myhuaweicloud.com", "https://iam.eu-west-101.myhuaweicloud.eu"},
	"la-north-2":       {"https://dcs.la-north-2.myhuaweicloud.com", "https://iam.la-north-2.myhuaweicloud.com"},
	"la-south-2":       {"https://dcs.la-south-2.myhuaweicloud.com", "https://iam.la-south-2.myhuaweicloud.com"},
	"me-east-1":        {"https://dcs.me-east-1.myhuaweicloud.com", "https://iam.me-east-1.myhuaweicloud.com"},
	"my-kualalumpur-1": {"https://dcs.my-kualalumpur-1.myhuaweicloud.com", "https://iam.my-kualalumpur-1.myhuaweicloud.com"},
	"na-mexico-1":      {"https://dcs.na-mexico-1.myhuaweicloud.com", "https://iam.na-mexico-1.myhuaweicloud.com"},
	"ru-moscow-1":      {"https://dcs.ru-moscow-1.myhuaweicloud.com", "https://iam.ru-moscow-1.myhuaweicloud.com"},
	"ru-northwest-2":   {"https://dcs.ru-northwest-2.myhuaweicloud.com", ""},
	"sa-brazil-1":      {"https://dcs.sa-brazil-1.myhuaweicloud.com", "https://iam.sa-brazil-1.myhuaweicloud.com"},
	"tr-west-1":        {"https://dcs.tr-west-1.myhuaweicloud.com", "https://iam.tr-west-1.myhuaweicloud.com"},
}

// Default returns the DCS and IAM endpoints of a region and whether
// the SDK's tables know it. An unknown region gets the pattern that all but
// one known region follow, https://{service}.{region}.myhuaweicloud.com,
// which may well be wrong: other clouds of the same family (Open Telekom
// Cloud, for one) need their endpoints set explicitly.
func Default(region string) (dcs, iam string, known bool) {
	e, known := regionEndpoints[region]
	if !known {
		return "https://dcs." + region + ".myhuaweicloud.com", "https://iam." + region + ".myhuaweicloud.com", false
	}
	if e[1] == "" {
		return e[0], globalIAMEndpoint, true
	}
	return e[0], e[1], true
}
