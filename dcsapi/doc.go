// Package dcsapi is a small client for the parts of the Huawei Cloud DCS and
// IAM APIs the exporter needs: instance status counts, the instance list,
// project lookup, and the fleet APIs (statistics of running instances, the
// tenant quota, logical nodes and backup records; docs/fleet-apis.md). It
// signs requests exactly as the official SDK does, decodes every documented
// response shape, and returns typed errors.
package dcsapi
